"""A run's rows and the names the runner shares with the rest of the plane (keys, topics, queue)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from controlplane import db
from controlplane.errors import NotFound
from controlplane.governance.service import request_hash
from controlplane.identity.models import Principal
from controlplane.playbook.actions.base import Requester, StepContext
from controlplane.playbook.models import PlaybookRun, PlaybookStep
from controlplane.playbook.spec import PlaybookSpec, StepSpec
from controlplane.playbook.states import SETTLED, StepStatus
from controlplane.playbook.template import render

SUBJECT = "playbook.step"  # the approval queue's name for a paused step
RUNNABLE = "runs"  # the change topic that wakes the run workers
CLAIMABLE = (StepStatus.APPROVED.value, StepStatus.RESUMING.value, StepStatus.WAITING.value)


def step_key(run_id: str, step_id: str, group: int) -> str:
    """The idempotency key an action receives: the same across retries and resumes of a group."""
    return f"{run_id}:{step_id}:{group}"


def context_of(run: PlaybookRun, steps: list[PlaybookStep]) -> dict[str, Any]:
    """What templates see: inputs, earlier steps' outputs and status, the run and its scope."""
    return {
        "inputs": dict(run.inputs),
        "steps": {s.step_id: {"outputs": dict(s.outputs), "status": s.status} for s in steps},
        "run": {
            "id": run.id,
            "requested_by": run.requested_by,
            "requested_kind": run.requested_kind,
            "playbook": run.playbook,
        },
        "scope": {"environment": run.environment, "service": run.service},
    }


def where_step_lands(
    spec: StepSpec, ctx: Mapping[str, Any], run: PlaybookRun
) -> tuple[str | None, str | None]:
    """The step's environment and service: its own templates, else the run's scope."""
    env = render(spec.environment, ctx) if spec.environment else run.environment
    svc = render(spec.service, ctx) if spec.service else run.service
    return (str(env) if env else None), (str(svc) if svc and svc != "all" else None)


def action_context(
    run: PlaybookRun, row: PlaybookStep, *, key: str, session: Session, tools: Any, now: datetime
) -> StepContext:
    """What an action gets for one step: its key, its scope, the requester and a transaction."""
    return StepContext(
        run_id=run.id,
        step_id=row.step_id,
        idempotency_key=key,
        requester=Requester(run.requested_by, run.requested_kind),
        environment=row.environment,
        service=row.service,
        session=session,
        tools=tools,
        now=now,
    )


def bound_hash(run: PlaybookRun, row: PlaybookStep, inputs: Mapping[str, Any]) -> str:
    """What a step's approval is bound to: the run, the step, its exact inputs and scope."""
    return request_hash(
        {
            "run_id": run.id,
            "step": row.step_id,
            "action": row.action,
            "operation": row.operation,
            "environment": row.environment,
            "service": row.service,
            "with": dict(inputs),
        }
    )


def settled(row: PlaybookStep, spec: PlaybookSpec) -> bool:
    """Whether the run may pass this step: done, skipped, undone, or failed with `continue`."""
    if StepStatus(row.status) in SETTLED:
        return True
    return row.status == StepStatus.FAILED and spec.step(row.step_id).on_failure == "continue"


def get_run(session: Session, run_id: str) -> PlaybookRun:
    """Load a run, or say it is not found (a run id comes from outside)."""
    run = session.get(PlaybookRun, run_id)
    if run is None:
        raise NotFound(f"run {run_id} not found")
    return run


def get_step(session: Session, row_id: str) -> PlaybookStep:
    """Load a step row the runner itself holds the id of."""
    row = session.get(PlaybookStep, row_id)
    if row is None:
        raise LookupError(row_id)
    return row


def steps_of(session: Session, run_id: str) -> list[PlaybookStep]:
    """A run's step rows in playbook order."""
    query = select(PlaybookStep).where(PlaybookStep.run_id == run_id)
    return list(session.exec(query.order_by(col(PlaybookStep.position))).all())


def mark_runnable(session: Session) -> None:
    """Wake the run workers (here after commit, and the other replicas on PostgreSQL)."""
    db.mark_changed(session, RUNNABLE)


def principal_of(run: PlaybookRun) -> Principal:
    """A stand-in principal for the requester (name and kind; roles come from the identity)."""
    return Principal(
        identity_id="", name=run.requested_by, kind=run.requested_kind, roles=frozenset()
    )


__all__ = [
    "CLAIMABLE",
    "RUNNABLE",
    "SUBJECT",
    "action_context",
    "bound_hash",
    "context_of",
    "get_run",
    "get_step",
    "mark_runnable",
    "principal_of",
    "settled",
    "step_key",
    "steps_of",
    "where_step_lands",
]
