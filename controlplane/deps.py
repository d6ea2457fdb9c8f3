"""FastAPI dependencies as Annotated aliases, so route signatures read as plain English."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session

from controlplane.context import AppContext
from controlplane.identity import service as identity
from controlplane.identity.models import Principal


async def get_ctx(request: Request) -> AppContext:
    """The app's context."""
    ctx: AppContext = request.app.state.ctx
    return ctx


CtxDep = Annotated[AppContext, Depends(get_ctx)]


def get_session(ctx: CtxDep) -> Iterator[Session]:
    """A session per request; the route commits, anything else rolls back."""
    with Session(ctx.engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_read_session(ctx: CtxDep) -> Iterator[Session]:
    """A read-only session that never takes the SQLite write lock."""
    with Session(ctx.read_engine) as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(get_read_session)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def get_principal(request: Request) -> Principal:
    """Resolve the bearer token (401 when missing or unknown); cached, so usually no I/O."""
    ctx: AppContext = request.app.state.ctx
    token = _bearer(request)
    cached = ctx.tokens.get(identity.hash_token(token)) if token else None
    if cached is not None:
        return cached
    return await run_in_threadpool(_authenticate, ctx, token)


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
