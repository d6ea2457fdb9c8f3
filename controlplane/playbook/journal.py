"""A run's bookkeeping: its status and reason, the audit line of each step, the news people hear.

Every outcome the runner records goes through here, in the caller's transaction, so a step's
audit line (its timeline: decided, started, finished, failed) commits with the change it describes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from controlplane.audit.recorder import Recorder
from controlplane.clock import Clock
from controlplane.governance.service import decision_fields
from controlplane.playbook.actions.base import Requester
from controlplane.playbook.models import PlaybookRun, PlaybookStep
from controlplane.playbook.states import RUN_TRANSITIONS, RunStatus, move
from controlplane.policy.models import Decision

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """Something people following a run should hear (a chat thread, a log line)."""

    run_id: str
    text: str
    reply_to: str | None


class Journal:
    """Writes a run's status, its steps' audit lines and its progress news."""

    def __init__(
        self, *, clock: Clock, audit: Recorder, on_progress: Callable[[Progress], None]
    ) -> None:
        self.clock, self.audit, self.on_progress = clock, audit, on_progress

    def set_run(
        self, session: Session, run: PlaybookRun, to: RunStatus, reason: str | None
    ) -> None:
        """Move the run (a no-op move is allowed) and say why it stands where it stands."""
        if run.status != to.value:
            move(run, to, RUN_TRANSITIONS, f"run {run.id}")
        run.reason, run.updated_at = reason, self.clock.now()
        session.add(run)

    def finish_run(
        self, session: Session, run: PlaybookRun, to: RunStatus, reason: str | None
    ) -> None:
        """End the run with its own audit line, and tell whoever follows it."""
        self.set_run(session, run, to, reason)
        run.finished_at, run.current_step, run.next_check_at = self.clock.now(), None, None
        session.add(run)
        result = {RunStatus.SUCCEEDED: "success", RunStatus.FAILED: "failure"}.get(to, "halted")
        self.audit.record(
            session,
            Requester(run.requested_by, run.requested_kind),
            operation="playbook.run",
            result=result,
            environment=run.environment,
            service=run.service,
            inputs={"run_id": run.id, "playbook": run.playbook},
            outputs={"status": to.value, "reason": reason},
        )
        self.tell(run, f"run {to.value}" + (f": {reason}" if reason else ""))

    def record(
        self,
        session: Session,
        run: PlaybookRun,
        row: PlaybookStep,
        result: str,
        outputs: Mapping[str, Any],
        decision: Decision | None = None,
    ) -> None:
        """The step's line in the audit log (its timeline: decided, started, finished, failed)."""
        fields: dict[str, Any] = (
            decision_fields(decision)
            if decision
            else {
                "environment": row.environment,
                "service": row.service,
                "final_mode": row.mode,
                "decision_id": row.decision_id,
            }
        )
        self.audit.record(
            session,
            Requester(run.requested_by, run.requested_kind),
            operation=row.operation,
            result=result,
            approvers=tuple(row.approvers),
            inputs={
                "run_id": run.id,
                "playbook": run.playbook,
                "step": row.step_id,
                "action": row.action,
                "with": row.inputs,
            },
            outputs=dict(outputs),
            **fields,
        )

    def tell(self, run: PlaybookRun, text: str) -> None:
        """Pass news on to the run's followers; a failed delivery is logged, never raised."""
        try:
            self.on_progress(
                Progress(run.id, f"/{run.playbook} {run.id[:8]}: {text}", run.reply_to)
            )
        except Exception as exc:  # progress is news, never a reason to fail a run
            log.warning("progress of run %s not delivered: %s", run.id, exc.__class__.__name__)


__all__ = ["Journal", "Progress"]
