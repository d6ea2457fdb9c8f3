"""Identity endpoints: who am I; tokens and identities (admin), each change through the door."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlmodel import col, select

from controlplane.deps import Admin, CurrentPrincipal, DoorDep, ReadSessionDep, SessionDep
from controlplane.governance.models import GovernedAction
from controlplane.governance.states import ActionStatus
from controlplane.identity import service as identity
from controlplane.identity.models import (
    Identity,
    IdentityPublic,
    Revoke,
    TokenCreate,
    TokenIssued,
    TokenPublic,
    WhoAmI,
)
from controlplane.responses import WAITS, govern

router = APIRouter(prefix="/v1", tags=["identity"])


def _outputs(row: GovernedAction) -> dict[str, Any]:
    return {**row.outputs, "audit_seq": row.audit_seq}


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
    body: TokenCreate, session: SessionDep, door: DoorDep, principal: Admin
) -> TokenIssued:
    """Issue a token (`token.issue`): shown once, stored only as its sha256. If the policy asks
    for approval, the token is shown now and works once approved (`status`, `approval_id`)."""
    token = identity.mint()
    payload = {
        "request": body.model_dump(),
        "sha256": identity.hash_token(token),
        "prefix": token[:10],
    }
    row = door.submit(
        session=session, principal=principal, operation="token.issue", payload=payload
    )
    session.commit()
    done = row.status == ActionStatus.SUCCEEDED
    return TokenIssued(
        identity_id=row.outputs.get("identity_id"),
        name=body.name,
        kind=body.kind,
        roles=sorted(set(body.roles)),
        token=token,
        token_id=row.outputs.get("id"),
        expires_at=row.outputs.get("expires_at"),
        status="active" if done else row.status,
        approval_id=row.approval_id,
        audit_seq=row.audit_seq,
    )


@router.get("/tokens", response_model=list[TokenPublic])
def list_tokens(session: ReadSessionDep, _: Admin) -> list[TokenPublic]:
    """Every token (prefix, holder, expiry, revocation), never a secret."""
    return identity.list_tokens(session=session)


@router.post("/tokens/{token_id}/revoke", response_model=dict[str, Any], responses=WAITS)
def revoke_token(
    token_id: str, body: Revoke, session: SessionDep, door: DoorDep, principal: Admin
) -> Any:
    """Revoke a token (`token.revoke`): refused at once, on every replica; never the caller's."""
    identity.check_not_own_token(caller=principal, token_id=token_id)
    token = identity.revocable(session=session, token_id=token_id)
    holder = session.get(Identity, token.identity_id)
    payload = {"id": token_id, "holder": holder.name if holder else "?", "reason": body.reason}
    return govern(door, session, principal, "token.revoke", payload, _outputs)


@router.get("/identities", response_model=list[IdentityPublic])
def list_identities(session: ReadSessionDep, _: Admin) -> list[IdentityPublic]:
    """Every identity (no secrets)."""
    rows = session.exec(select(Identity).order_by(col(Identity.created_at))).all()
    return [IdentityPublic.model_validate(r, from_attributes=True) for r in rows]


def _switch(
    name: str, body: Revoke, session: SessionDep, door: DoorDep, principal: Admin, disable: bool
) -> Any:
    who = identity.get_identity(session=session, name=name)
    payload = {"name": name, "reason": body.reason, "roles": list(who.roles), "kind": who.kind}
    operation = "identity.disable" if disable else "identity.enable"
    return govern(door, session, principal, operation, payload, _outputs)


@router.post("/identities/{name}/disable", response_model=dict[str, Any], responses=WAITS)
def disable_identity(
    name: str, body: Revoke, session: SessionDep, door: DoorDep, principal: Admin
) -> Any:
    """Disable an identity (`identity.disable`): every one of its tokens refused at once."""
    return _switch(name, body, session, door, principal, disable=True)


@router.post("/identities/{name}/enable", response_model=dict[str, Any], responses=WAITS)
def enable_identity(
    name: str, body: Revoke, session: SessionDep, door: DoorDep, principal: Admin
) -> Any:
    """Enable a disabled identity again (`identity.enable`)."""
    return _switch(name, body, session, door, principal, disable=False)
