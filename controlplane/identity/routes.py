"""Identity endpoints: who am I, issue tokens (admin)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import col, select

from controlplane.deps import Admin, CtxDep, CurrentPrincipal, SessionDep
from controlplane.identity import service as identity
from controlplane.identity.models import Identity, IdentityPublic, TokenCreate, TokenIssued, WhoAmI

router = APIRouter(prefix="/v1", tags=["identity"])


@router.get("/whoami", response_model=WhoAmI)
def whoami(principal: CurrentPrincipal) -> WhoAmI:
    """The caller's identity, kind and roles."""
    return WhoAmI(
        identity_id=principal.identity_id,
        name=principal.name,
        kind=principal.kind,
        roles=sorted(principal.roles),
    )


@router.post("/tokens", response_model=TokenIssued, status_code=201)
def create_token(
    body: TokenCreate, session: SessionDep, ctx: CtxDep, principal: Admin
) -> TokenIssued:
    """Issue a token (shown once; stored only as its sha256)."""
    issued = identity.issue(session=session, clock=ctx.clock, request=body)
    ctx.audit(
        session,
        principal,
        operation="token.create",
        result="success",
        inputs=body.model_dump(),
        outputs={"identity_id": issued.identity_id, "token_id": issued.token_id},
    )
    session.commit()
    return issued


@router.get("/identities", response_model=list[IdentityPublic])
def list_identities(session: SessionDep, _: Admin) -> list[IdentityPublic]:
    """Every identity (no secrets)."""
    rows = session.exec(select(Identity).order_by(col(Identity.created_at))).all()
    return [IdentityPublic.model_validate(r, from_attributes=True) for r in rows]
