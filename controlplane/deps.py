"""FastAPI dependencies as Annotated aliases, so route signatures read as plain English."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from controlplane.context import AppContext
from controlplane.identity import service as identity
from controlplane.identity.models import Principal


def get_ctx(request: Request) -> AppContext:
    """The app's context."""
    ctx: AppContext = request.app.state.ctx
    return ctx


CtxDep = Annotated[AppContext, Depends(get_ctx)]


def get_session(ctx: CtxDep) -> Iterator[Session]:
    """A session per request; the route commits, anything else rolls back."""
    with Session(ctx.engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def get_principal(request: Request, ctx: CtxDep) -> Principal:
    """Resolve the bearer token (401 when missing or unknown)."""
    cached = ctx.tokens.get(identity.hash_token(_bearer(request) or ""))
    if cached is not None:
        return cached
    with Session(ctx.engine) as session:
        return identity.authenticate(
            session=session, clock=ctx.clock, token=_bearer(request), cache=ctx.tokens
        )


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def role(name: str) -> Callable[[Principal], Principal]:
    """A dependency that requires a role (403 otherwise)."""

    def _check(principal: CurrentPrincipal) -> Principal:
        identity.require(principal, name)
        return principal

    return _check


Viewer = Annotated[Principal, Depends(role("viewer"))]
Operator = Annotated[Principal, Depends(role("operator"))]
Approver = Annotated[Principal, Depends(role("approver"))]
Admin = Annotated[Principal, Depends(role("admin"))]
