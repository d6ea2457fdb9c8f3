"""The deployment state machine (DESIGN §5): its statuses, their transitions, the only movers.

blocked (a gate refused)           pending_approval -> approved -> executing -> succeeded
rejected | expired (from pending)                 ^       |                 -> failed
                               (a stricter mode voids  <--+                 -> rolled_back
                                the approvals)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session

from controlplane.deploy.models import Deployment
from controlplane.governance import states


class DeploymentStatus(enum.StrEnum):
    """Where a deployment request stands."""

    BLOCKED = "blocked"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    EXECUTING = "executing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    REJECTED = "rejected"
    EXPIRED = "expired"


S = DeploymentStatus
TRANSITIONS: Mapping[DeploymentStatus, frozenset[DeploymentStatus]] = {
    S.PENDING_APPROVAL: frozenset({S.APPROVED, S.REJECTED, S.EXPIRED}),
    S.APPROVED: frozenset({S.EXECUTING, S.PENDING_APPROVAL}),
    S.EXECUTING: frozenset({S.SUCCEEDED, S.FAILED, S.ROLLED_BACK}),
}
FINISHED = frozenset({S.SUCCEEDED, S.FAILED, S.ROLLED_BACK})  # what release history looks at
_TABLE = Deployment.__table__  # type: ignore[attr-defined]


def initial(outcome: str) -> DeploymentStatus:
    """The first status of a gated request: refused, waiting for humans, or ready to run."""
    return {"refused": S.BLOCKED, "approval_required": S.PENDING_APPROVAL, "execute": S.APPROVED}[
        outcome
    ]


def move(dep: Deployment, to: DeploymentStatus) -> None:
    """Change a deployment's status as the table allows (409 otherwise)."""
    states.move(dep, to, TRANSITIONS, f"deployment {dep.id}")


def claim(session: Session, dep: Deployment, *, by: str, at: datetime) -> bool:
    """Atomically move approved -> executing (a transition of the table, made by a conditional
    UPDATE so that of several replicas only one wins)."""
    claimed = session.connection().execute(
        update(_TABLE)
        .where(_TABLE.c.id == dep.id, _TABLE.c.status == S.APPROVED.value)
        .values(status=S.EXECUTING.value, started_at=at, executed_by=by)
    )
    if claimed.rowcount != 1:
        return False
    session.refresh(dep)
    return True


def set_step(session: Session, deployment_id: str, step: str, *, at: datetime) -> None:
    """Record what an executing deployment does now (nothing once it has finished)."""
    session.connection().execute(
        update(_TABLE)
        .where(_TABLE.c.id == deployment_id, _TABLE.c.status == S.EXECUTING.value)
        .values(step=step[:200], step_at=at)
    )
