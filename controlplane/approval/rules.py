"""Pure approval rules: who may vote, and what a stricter re-evaluation means."""

from __future__ import annotations

from controlplane.errors import Conflict, Forbidden
from controlplane.identity.models import Principal
from controlplane.policy.models import Mode


def check_voter(principal: Principal, *, requester: str, approver_role: str) -> None:
    """Agents and CI never approve; nobody approves their own request; the role is required."""
    if principal.kind != "human":
        raise Forbidden(
            f"{principal.name} is a {principal.kind} identity; only humans approve",
            {"kind": principal.kind},
        )
    if principal.name == requester:
        raise Forbidden(
            f"{principal.name} asked for this change and cannot approve it (no self-approval)",
            {"requester": requester},
        )
    if not principal.has(approver_role):
        raise Forbidden(
            f"{principal.name} lacks the {approver_role!r} role",
            {"required_role": approver_role, "roles": sorted(principal.roles)},
        )


def check_open(status: str, request_id: str) -> None:
    """Only pending requests take votes (an expired one is closed as expired before this)."""
    if status != "pending":
        raise Conflict(
            f"approval {request_id} is {status}; it takes no more votes", {"status": status}
        )


def is_stricter(new_mode: str, approved_mode: str) -> bool:
    """True when a re-evaluation asks for more than what the humans approved."""
    return Mode.parse(new_mode) > Mode.parse(approved_mode)
