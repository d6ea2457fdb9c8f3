"""How an attempt ended, recorded only while it still owns the step (not timed out, not taken over).

A success commits in the action's own transaction together with the key's ledger entry
(`playbook_effect`), so a finished key never runs again; a failure is retried after a backoff
while attempts last, else the step fails and its `on_failure` applies; a wait looks again later.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from controlplane.audit.redact import redact_text
from controlplane.clock import Clock
from controlplane.playbook.actions.base import ActionFailed, Waiting
from controlplane.playbook.compensation import Compensator
from controlplane.playbook.journal import Journal
from controlplane.playbook.models import PlaybookAttempt, PlaybookEffect, PlaybookRun, PlaybookStep
from controlplane.playbook.rows import get_run, get_step
from controlplane.playbook.spec import StepSpec
from controlplane.playbook.states import STEP_TRANSITIONS, RunStatus, StepStatus, move

log = logging.getLogger(__name__)


class Outcomes:
    """Records how a step attempt ended, if that attempt is still the current one."""

    def __init__(
        self,
        *,
        engine: Engine,
        owner: str,
        clock: Clock,
        journal: Journal,
        compensator: Compensator,
    ) -> None:
        self.engine, self.owner, self.clock = engine, owner, clock
        self.journal, self.compensator = journal, compensator

    def not_done(
        self,
        run_id: str,
        row_id: str,
        attempt: PlaybookAttempt,
        step: StepSpec,
        exc: Exception,
        notes: list[str],
    ) -> bool:
        """Waiting looks again later; a failure, declared or not, is retried or fails the step."""
        if isinstance(exc, Waiting):
            return self._wait(run_id, row_id, attempt, exc.reason, exc.check_in_s, notes)
        if isinstance(exc, ActionFailed):
            return self.failed(
                run_id, row_id, attempt, step, exc.reason, exc.error, exc.retryable, notes
            )
        log.warning("step %s of run %s raised %s", step.id, run_id, exc.__class__.__name__)
        reason = redact_text(f"{exc.__class__.__name__}: {exc}")[:1000]
        return self.failed(
            run_id, row_id, attempt, step, reason, exc.__class__.__name__, True, notes
        )

    def succeeded(
        self,
        run_id: str,
        row_id: str,
        attempt: PlaybookAttempt,
        outputs: dict[str, Any],
        notes: list[str],
        *,
        session: Session | None = None,
        key: str | None = None,
    ) -> bool:
        """Record the success (and the key's ledger entry) in the action's own transaction."""
        own = session is None
        session = session or Session(self.engine, expire_on_commit=False)
        try:
            if not self._still_current(session, row_id, attempt):
                session.rollback()
                return False
            run, row = get_run(session, run_id), get_step(session, row_id)
            move(row, StepStatus.SUCCEEDED, STEP_TRANSITIONS, f"step {row.step_id}")
            row.outputs, row.finished_at, row.error = outputs, self.clock.now(), None
            row.notes = [*row.notes, *notes][-50:]
            session.add(row)
            if key is not None:
                session.add(
                    PlaybookEffect(
                        key=key, run_id=run_id, outputs=outputs, recorded_at=self.clock.now()
                    )
                )
            self._end_attempt(session, attempt, "succeeded", None)
            run.outputs = {**run.outputs, row.step_id: outputs}
            run.next_check_at = None
            self.journal.set_run(session, run, RunStatus.RUNNING, None)
            self.journal.record(session, run, row, "success", outputs)
            session.commit()
            self.journal.tell(run, f"step {row.step_id} succeeded")
            return True
        finally:
            if own:
                session.close()

    def _still_current(self, session: Session, row_id: str, attempt: PlaybookAttempt) -> bool:
        """The attempt still owns the step (not timed out, not taken over by another replica)."""
        row = session.exec(
            select(PlaybookStep).where(PlaybookStep.id == row_id).with_for_update()
        ).one()
        return (
            row.status == StepStatus.RUNNING
            and row.attempts == attempt.number
            and row.executed_by == self.owner
        )

    def failed(
        self,
        run_id: str,
        row_id: str,
        attempt: PlaybookAttempt,
        step: StepSpec,
        reason: str,
        error: str,
        retryable: bool,
        notes: list[str] | None = None,
    ) -> bool:
        """Retry after a backoff while attempts last; else fail the step and apply on_failure."""
        with Session(self.engine, expire_on_commit=False) as session:
            if not self._still_current(session, row_id, attempt):
                return False
            run, row = get_run(session, run_id), get_step(session, row_id)
            row.notes = [*row.notes, *(notes or []), f"attempt {row.attempts}: {reason}"][-50:]
            self._end_attempt(
                session, attempt, "timed_out" if error == "timeout" else "failed", reason
            )
            again = (
                retryable
                and error not in step.retries.non_retryable
                and row.attempts < step.retries.attempts
            )
            if again:
                backoff = self._retry_later(session, run, row, step, reason)
                session.commit()
                return backoff <= 0
            self.compensator.fail_step(session, run, row, reason)
            session.commit()
            return True

    def _retry_later(
        self, session: Session, run: PlaybookRun, row: PlaybookStep, step: StepSpec, reason: str
    ) -> float:
        """Park the step until its backoff has passed; the backoff in seconds."""
        backoff = step.retries.backoff_s * step.retries.multiplier ** (row.attempts - 1)
        move(row, StepStatus.WAITING, STEP_TRANSITIONS, f"step {row.step_id}")
        session.add(row)
        run.next_check_at = self.clock.now() + timedelta(seconds=backoff)
        self.journal.set_run(
            session,
            run,
            RunStatus.WAITING,
            f"step {row.step_id} failed ({reason}); retry {row.attempts + 1} "
            f"of {step.retries.attempts} in {backoff:g}s",
        )
        return backoff

    def _wait(
        self,
        run_id: str,
        row_id: str,
        attempt: PlaybookAttempt,
        reason: str,
        check_in_s: float,
        notes: list[str],
    ) -> bool:
        """Not done yet: look again later; the poll does not count as an attempt."""
        with Session(self.engine, expire_on_commit=False) as session:
            if not self._still_current(session, row_id, attempt):
                return False
            run, row = get_run(session, run_id), get_step(session, row_id)
            move(row, StepStatus.WAITING, STEP_TRANSITIONS, f"step {row.step_id}")
            row.attempts -= 1
            if notes:
                row.notes = [*row.notes, *notes][-50:]
            session.add(row)
            done = session.get(PlaybookAttempt, attempt.id)
            if done is not None:  # a poll is not an attempt: its row goes
                session.delete(done)
            run.next_check_at = self.clock.now() + timedelta(seconds=check_in_s)
            changed = run.reason != reason
            self.journal.set_run(session, run, RunStatus.WAITING, reason)
            session.commit()
            if changed:
                self.journal.tell(run, reason)
            return False

    def _end_attempt(
        self, session: Session, attempt: PlaybookAttempt, status: str, error: str | None
    ) -> None:
        """Close the attempt's row with how it ended."""
        row = session.get(PlaybookAttempt, attempt.id)
        if row is not None:
            row.status, row.error, row.finished_at = status, error, self.clock.now()
            session.add(row)


__all__ = ["Outcomes"]
