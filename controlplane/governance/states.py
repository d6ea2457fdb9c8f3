"""A status enum with its allowed transitions in one table, and the one function that moves it.

Each state machine of the plane (governed actions, deployments, approval requests) declares its
table in this shape and moves its rows only through `move` (a row is created in its first
status; the deployment claim is the one transition made by a conditional UPDATE, see there).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Protocol, TypeVar

from controlplane.errors import Conflict

S = TypeVar("S", bound=enum.StrEnum)


class HasStatus(Protocol):
    """A row with a status column (stored as the enum's value)."""

    status: str


def move(row: HasStatus, to: S, transitions: Mapping[S, frozenset[S]], what: str) -> None:
    """Change a row's status if the table allows it; refuse (409) a transition it does not list."""
    current = type(to)(row.status)
    if to not in transitions.get(current, frozenset()):
        raise Conflict(
            f"{what} is {current.value}; it cannot become {to.value}",
            {"status": current.value, "wanted": to.value},
        )
    row.status = to.value


class ActionStatus(enum.StrEnum):
    """The life of a governed action (DESIGN §1): decided, maybe approved, executed once."""

    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    EXECUTING = "executing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"


ACTION_TRANSITIONS: Mapping[ActionStatus, frozenset[ActionStatus]] = {
    # pending_approval -> pending_approval: approvals voided by a stricter mode, waiting again
    ActionStatus.PENDING_APPROVAL: frozenset(
        {
            ActionStatus.PENDING_APPROVAL,
            ActionStatus.APPROVED,
            ActionStatus.REJECTED,
            ActionStatus.EXPIRED,
        }
    ),
    ActionStatus.APPROVED: frozenset({ActionStatus.EXECUTING}),
    ActionStatus.EXECUTING: frozenset({ActionStatus.SUCCEEDED, ActionStatus.FAILED}),
}
