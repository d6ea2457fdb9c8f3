"""Executing a decided step: claim it, run its action under its key, hand on the outcome.

A step's action runs under an idempotency key `run:step:group`; the ledger (`playbook_effect`) is
written in the transaction that records the step's success (`outcome`), so a finished key never
runs again, and a crash before that commit leaves the step to run again under the same key (at
least once): a step left `running` by a stopped replica resumes under the key it had.
"""

from __future__ import annotations

import concurrent.futures
import threading
import uuid
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, select

from controlplane.audit.redact import sanitize
from controlplane.clock import Clock
from controlplane.playbook.actions.base import ActionFailed, ActionRegistry
from controlplane.playbook.gating import StepGate
from controlplane.playbook.journal import Journal
from controlplane.playbook.models import PlaybookAttempt, PlaybookEffect, PlaybookRun, PlaybookStep
from controlplane.playbook.outcome import Outcomes
from controlplane.playbook.rows import CLAIMABLE, action_context, get_run, get_step, step_key
from controlplane.playbook.spec import StepSpec
from controlplane.playbook.states import STEP_TRANSITIONS, RunStatus, StepStatus, move

_STEPS = PlaybookStep.__table__  # type: ignore[attr-defined]


class StepExecutor:
    """Runs claimed steps' actions, each on its own thread and bounded by the step's timeout."""

    def __init__(
        self,
        *,
        engine: Engine,
        actions: ActionRegistry,
        tools: Any,
        owner: str,
        clock: Clock,
        journal: Journal,
        gate: StepGate,
        outcomes: Outcomes,
    ) -> None:
        self.engine, self.actions, self.tools, self.owner = engine, actions, tools, owner
        self.clock, self.journal, self.gate, self.outcomes = clock, journal, gate, outcomes

    def execute(self, run_id: str, row_id: str, step: StepSpec) -> bool:
        """Re-check, claim, run the action under its key, record the outcome."""
        with Session(self.engine, expire_on_commit=False) as session:
            run, row = get_run(session, run_id), get_step(session, row_id)
            if row.approval_id and self.gate.waits_again(session, run, step, row):
                session.commit()
                return False
            attempt = self._claim(session, run, row)
            if attempt is None:
                session.rollback()
                return False
            session.commit()
        key = step_key(run_id, row.step_id, row.attempt_group)
        done = self._ledger(key)
        if done is not None:
            return self.outcomes.succeeded(
                run_id, row_id, attempt, done, ["already done under this key; not run again"]
            )
        future = self._in_own_thread(run_id, row_id, step, attempt, key)
        try:
            return future.result(timeout=step.timeout_s)
        except concurrent.futures.TimeoutError:
            return self.outcomes.failed(
                run_id, row_id, attempt, step, f"timed out after {step.timeout}", "timeout", True
            )

    def orphaned(self, session: Session, run: PlaybookRun, row: PlaybookStep) -> None:
        """A step left `running` by a replica that stopped: run it again under the same key."""
        move(row, StepStatus.RESUMING, STEP_TRANSITIONS, f"step {row.step_id}")
        row.attempts = max(0, row.attempts - 1)
        row.notes = [
            *row.notes,
            f"resuming: {row.executed_by} stopped during attempt {row.attempts + 1}",
        ][-50:]
        session.add(row)
        for left in session.exec(
            select(PlaybookAttempt).where(
                PlaybookAttempt.run_id == run.id,
                PlaybookAttempt.step_id == row.step_id,
                PlaybookAttempt.status == "running",
            )
        ):
            left.status, left.finished_at, left.error = (
                "orphaned",
                self.clock.now(),
                "its replica stopped",
            )
            session.add(left)
        self.journal.record(
            session, run, row, "requested", {"event": "resuming", "previous_owner": row.executed_by}
        )

    def _claim(
        self, session: Session, run: PlaybookRun, row: PlaybookStep
    ) -> PlaybookAttempt | None:
        """approved|resuming|waiting -> running by a conditional UPDATE: one executor per step."""
        now = self.clock.now()
        claimed = session.connection().execute(
            update(_STEPS)
            .where(_STEPS.c.id == row.id, _STEPS.c.status.in_(CLAIMABLE))
            .values(
                status=StepStatus.RUNNING.value,
                executed_by=self.owner,
                attempts=row.attempts + 1,
                started_at=row.started_at or now,
            )
        )
        if claimed.rowcount != 1:
            return None
        session.refresh(row)
        attempt = PlaybookAttempt(
            id=uuid.uuid4().hex,
            run_id=run.id,
            step_id=row.step_id,
            number=row.attempts,
            idempotency_key=step_key(run.id, row.step_id, row.attempt_group),
            owner=self.owner,
            status="running",
            started_at=now,
        )
        session.add(attempt)
        run.current_step = row.step_id
        self.journal.set_run(session, run, RunStatus.RUNNING, None)
        self.journal.record(
            session,
            run,
            row,
            "requested",
            {"event": "started", "attempt": row.attempts, "key": attempt.idempotency_key},
        )
        return attempt

    def _in_own_thread(
        self, run_id: str, row_id: str, step: StepSpec, attempt: PlaybookAttempt, key: str
    ) -> concurrent.futures.Future[bool]:
        """Start the attempt on a thread of its own: an action that hangs past its timeout keeps
        only its own thread, never a slot that other runs' steps wait for (a shared pool would
        starve once a few actions hang)."""
        future: concurrent.futures.Future[bool] = concurrent.futures.Future()

        def work() -> None:
            try:
                future.set_result(self._attempt(run_id, row_id, step, attempt, key))
            except BaseException as exc:  # handed to the waiting executor, as a pool would
                future.set_exception(exc)

        threading.Thread(target=work, name=f"step-{step.id}", daemon=True).start()
        return future

    def _ledger(self, key: str) -> dict[str, Any] | None:
        """The outputs recorded under this key, if a run of it has already committed."""
        with Session(self.engine) as session:
            done = session.get(PlaybookEffect, key)
            return dict(done.outputs) if done else None

    def _attempt(
        self, run_id: str, row_id: str, step: StepSpec, attempt: PlaybookAttempt, key: str
    ) -> bool:
        """Run the action in its own transaction; its rows commit with the step's success."""
        action = self.actions.get(step.action)
        with Session(self.engine, expire_on_commit=False) as peek:  # short: SQLite writers queue
            run, row = get_run(peek, run_id), get_step(peek, row_id)
            peek.commit()
        with Session(self.engine, expire_on_commit=False) as session:  # begun only if written
            ctx = action_context(
                run, row, key=key, session=session, tools=self.tools, now=self.clock.now()
            )
            try:
                if action is None:
                    raise ActionFailed(
                        f"action {step.action!r} is not registered",
                        error="unknown_action",
                        retryable=False,
                    )
                outputs = sanitize(action.call(ctx, row.inputs))
            except Exception as exc:  # waiting, a declared failure, an adapter down, a bug
                session.rollback()
                return self.outcomes.not_done(run_id, row_id, attempt, step, exc, ctx.notes)
            return self.outcomes.succeeded(
                run_id, row_id, attempt, outputs, ctx.notes, session=session, key=key
            )


__all__ = ["StepExecutor"]
