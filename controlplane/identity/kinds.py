"""The governed identity actions: issue and revoke tokens, disable and enable identities.

They change who can do anything at all, so they are judged as production (modes.yaml) and need
the admin role; an agent or CI issuing a token or enabling an identity is STOP, revoking or
disabling CONSULT (rules.yaml), so a machine never mints itself a human's powers.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from controlplane.clock import Clock
from controlplane.governance.kinds import ActionKind, Effect, Requester, Scope
from controlplane.identity import service as identity
from controlplane.identity.models import TokenCreate
from controlplane.policy.models import Environment

PLANE = Scope(Environment.PRODUCTION)
# Payload and output keys avoid secret-looking names (token...), which redaction would mask.


def kinds(*, clock: Clock) -> list[ActionKind]:
    """The identity kinds, closed over the clock."""

    def issue(effect: Effect) -> dict[str, Any]:
        p = effect.payload
        who, token = identity.store_token(
            session=effect.session,
            clock=clock,
            request=TokenCreate.model_validate(p["request"]),
            token_sha256=p["sha256"],
            prefix=p["prefix"],
        )
        return {
            "identity_id": who.id,
            "id": token.id,
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        }

    def check_issue(session: Session, p: Any, who: Requester) -> None:
        identity.check_issue(session=session, request=TokenCreate.model_validate(p["request"]))

    def revoke(effect: Effect) -> dict[str, Any]:
        row = identity.revoke(session=effect.session, clock=clock, token_id=effect.payload["id"])
        at = row.revoked_at.isoformat() if row.revoked_at else None
        return {"id": row.id, "revoked_at": at}

    def check_revoke(session: Session, p: Any, who: Requester) -> None:
        identity.revocable(session=session, token_id=p["id"])

    def check_disable(session: Session, p: Any, who: Requester) -> None:
        identity.check_disable(name=p["name"], requester=who.name)

    def switch(disabled: bool) -> Any:
        def run(effect: Effect) -> dict[str, Any]:
            who = identity.set_disabled(
                session=effect.session, name=effect.payload["name"], disabled=disabled
            )
            return {"name": who.name, "disabled": who.disabled}

        return run

    return [
        ActionKind(
            operation="token.issue",
            scope=lambda p: PLANE,
            summary=lambda p: (
                f"issue a token for {p['request']['name']} "
                f"({p['request']['kind']}; {', '.join(p['request']['roles'])})"
            ),
            execute=issue,
            role="admin",
            context=lambda p: {"roles": p["request"]["roles"], "kind": p["request"]["kind"]},
            check=check_issue,
        ),
        ActionKind(
            operation="token.revoke",
            scope=lambda p: PLANE,
            summary=lambda p: f"revoke token {p['id']} of {p['holder']}: {p['reason']}",
            execute=revoke,
            role="admin",
            check=check_revoke,
        ),
        ActionKind(
            operation="identity.disable",
            scope=lambda p: PLANE,
            summary=lambda p: f"disable {p['name']}: {p['reason']}",
            execute=switch(True),
            role="admin",
            check=check_disable,
        ),
        ActionKind(
            operation="identity.enable",
            scope=lambda p: PLANE,
            summary=lambda p: f"enable {p['name']}: {p['reason']}",
            execute=switch(False),
            role="admin",
            context=lambda p: {"roles": p["roles"], "kind": p["kind"]},
        ),
    ]
