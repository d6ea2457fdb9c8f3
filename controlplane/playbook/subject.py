"""Paused playbook steps as a subject of the door: what a decided approval does to the run."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from controlplane.approval import service as approvals
from controlplane.errors import NotFound
from controlplane.identity.models import Principal
from controlplane.playbook.models import PlaybookRun, PlaybookStep
from controlplane.playbook.rows import mark_runnable
from controlplane.playbook.states import (
    RUN_TRANSITIONS,
    STEP_TRANSITIONS,
    RunStatus,
    StepStatus,
    move,
)


def _rows(session: Session, step_row_id: str) -> tuple[PlaybookStep, PlaybookRun]:
    row = session.get(PlaybookStep, step_row_id)
    run = session.get(PlaybookRun, row.run_id) if row else None
    if row is None or run is None:
        raise NotFound(f"playbook step {step_row_id} not found")
    return row, run


@dataclass(frozen=True)
class StepSubject:
    """Hands an approved step back to the run workers, which re-check it before it runs."""

    def approved(self, session: Session, subject_id: str, actor: Principal) -> None:
        """Approved: the run is runnable once this transaction commits."""
        row, run = _rows(session, subject_id)
        move(row, StepStatus.APPROVED, STEP_TRANSITIONS, f"step {row.step_id}")
        row.approvers = approvals.approvers(session=session, request_id=row.approval_id or "")
        session.add(row)
        if not run.cancel_requested:
            move(run, RunStatus.QUEUED, RUN_TRANSITIONS, f"run {run.id}")
            run.reason = f"step {row.step_id} approved by {', '.join(row.approvers)}"
            session.add(run)
        mark_runnable(session)

    def closed(self, session: Session, subject_id: str, status: str, reason: str) -> None:
        """Rejected: the run fails. Expired: the run pauses; `runs resume` asks again."""
        row, run = _rows(session, subject_id)
        if row.status != StepStatus.PENDING_APPROVAL:
            return
        to = StepStatus.REJECTED if status == "rejected" else StepStatus.EXPIRED
        move(row, to, STEP_TRANSITIONS, f"step {row.step_id}")
        row.error = f"approval {status}: {reason}"[:2000]
        session.add(row)
        run.reason = (
            f"step {row.step_id} was rejected: {reason}"
            if to is StepStatus.REJECTED
            else f"the approval for step {row.step_id} expired; resume the run to ask again"
        )
        session.add(run)
        mark_runnable(session)  # the worker ends (rejected) or parks (expired) the run
