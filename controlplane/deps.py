"""FastAPI dependencies as Annotated aliases, so route signatures read as plain English.

The app's wiring object (`AppContext`) is read here and nowhere else below the app: a route asks
for the collaborators it uses (`SessionDep`, `DoorDep`, `ClockDep`...), never for the whole.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.audit.signing import Signer
from controlplane.clock import Clock
from controlplane.config import Settings
from controlplane.context import AppContext
from controlplane.dora.wiring import DoraParts
from controlplane.governance.service import Door
from controlplane.identity import service as identity
from controlplane.identity.models import Principal
from controlplane.playbook.wiring import PlaybookParts
from controlplane.policy.store import PolicyStore
from controlplane.risk.service import SignalService
from controlplane.workload.wiring import Workloads


def context_of(request: Request) -> AppContext:
    """The wiring of the app serving this request."""
    ctx: AppContext = request.app.state.ctx
    return ctx


def get_session(request: Request) -> Iterator[Session]:
    """A session per request; the route commits, anything else rolls back."""
    with Session(context_of(request).engine, expire_on_commit=False) as session:
        yield session


def get_read_session(request: Request) -> Iterator[Session]:
    """A read-only session that never takes the SQLite write lock."""
    with Session(context_of(request).read_engine) as session:
        yield session


def _part(name: str) -> Callable[[Request], Coroutine[Any, Any, Any]]:
    """A dependency returning one collaborator of the app's wiring (async: no thread hop)."""

    async def part(request: Request) -> Any:
        return getattr(context_of(request), name)

    return part


SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]
ClockDep = Annotated[Clock, Depends(_part("clock"))]
DoorDep = Annotated[Door, Depends(_part("door"))]
PoliciesDep = Annotated[PolicyStore, Depends(_part("policies"))]
SignalsDep = Annotated[SignalService, Depends(_part("signals"))]
SettingsDep = Annotated[Settings, Depends(_part("settings"))]
SignerDep = Annotated[Signer, Depends(_part("signer"))]
WorkloadsDep = Annotated[Workloads, Depends(_part("workloads"))]
ReadEngineDep = Annotated[Engine, Depends(_part("read_engine"))]
EngineDep = Annotated[Engine, Depends(_part("engine"))]
DoraDep = Annotated[DoraParts, Depends(_part("dora"))]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


# Documents the bearer scheme on every route that resolves the caller (OpenAPI `security`);
# the token itself is read by _bearer, the same way on the hot routes that bypass FastAPI.
BEARER = HTTPBearer(auto_error=False, description="a token from `opsctl token create`")
BearerDoc = Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]


async def get_principal(request: Request, _: BearerDoc = None) -> Principal:
    """Resolve the bearer token (401 when missing, unknown, expired or revoked).

    Cached briefly, so usually no I/O; the cache never outlives a token's expiry and is
    cleared at once by a revocation or a disabled identity. The principal is kept on the request
    so a refusal later in the call can be recorded under its name.
    """
    ctx = context_of(request)
    token = _bearer(request)
    principal = ctx.tokens.get(identity.hash_token(token), ctx.clock.now()) if token else None
    if principal is None:
        principal = await run_in_threadpool(_authenticate, ctx, token)
    request.state.principal = principal
    return principal


def _authenticate(ctx: AppContext, token: str | None) -> Principal:
    with Session(ctx.read_engine) as session:
        return identity.authenticate(
            session=session, clock=ctx.clock, token=token, cache=ctx.tokens
        )


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def role(name: str) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency that requires a role (403 otherwise)."""

    async def _check(principal: CurrentPrincipal) -> Principal:
        identity.require(principal, name)
        return principal

    return _check


Viewer = Annotated[Principal, Depends(role("viewer"))]
Operator = Annotated[Principal, Depends(role("operator"))]
Approver = Annotated[Principal, Depends(role("approver"))]
Admin = Annotated[Principal, Depends(role("admin"))]


def _playbooks(request: Request) -> PlaybookParts:
    return context_of(request).playbooks


PlaybooksDep = Annotated[PlaybookParts, Depends(_playbooks)]
