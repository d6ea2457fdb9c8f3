"""Advance a playbook run, step by step, durably: the one place that moves runs and steps.

Each pass holds the run's lease (one replica at a time) and does one transition in one
transaction: decide a step (AUTO goes on; CONSULT/STOP opens an approval in the door's queue and
pauses the run), claim and execute it, record the outcome with its audit line. A step's action
runs under an idempotency key `run:step:group`; the ledger (`playbook_effect`) is written in the
transaction that records the step's success, so a finished key never runs again, and a crash
before that commit leaves the step to run again under the same key (at least once).
"""

from __future__ import annotations

import concurrent.futures
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from controlplane import db
from controlplane.approval import service as approvals
from controlplane.audit.redact import redact_text, sanitize
from controlplane.governance.kinds import judged_in
from controlplane.governance.service import Door, decision_fields, request_hash
from controlplane.identity.models import SYSTEM, Principal
from controlplane.playbook.actions.base import (
    ActionFailed,
    ActionRegistry,
    Requester,
    StepContext,
    Waiting,
)
from controlplane.playbook.models import PlaybookAttempt, PlaybookEffect, PlaybookRun, PlaybookStep
from controlplane.playbook.spec import PlaybookSpec, StepSpec
from controlplane.playbook.states import (
    RUN_TRANSITIONS,
    SETTLED,
    STEP_TRANSITIONS,
    RunStatus,
    StepStatus,
    move,
)
from controlplane.playbook.template import TemplateProblem, render, truthy
from controlplane.policy.models import Decision, DecisionInput, Mode

log = logging.getLogger(__name__)
SUBJECT = "playbook.step"  # the approval queue's name for a paused step
RUNNABLE = "runs"  # the change topic that wakes the run workers
_RUNS = PlaybookRun.__table__  # type: ignore[attr-defined]
_STEPS = PlaybookStep.__table__  # type: ignore[attr-defined]
CLAIMABLE = (StepStatus.APPROVED.value, StepStatus.RESUMING.value, StepStatus.WAITING.value)


@dataclass(frozen=True)
class Progress:
    """Something people following a run should hear (a chat thread, a log line)."""

    run_id: str
    text: str
    reply_to: str | None


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


class Runner:
    """Moves runs forward; built once per plane with the door and the actions it may call."""

    def __init__(
        self,
        *,
        engine: Engine,
        door: Door,
        actions: ActionRegistry,
        tools: Any,
        owner: str,
        lease_s: float = 15.0,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.engine, self.door, self.actions, self.tools = engine, door, actions, tools
        self.owner, self.lease_s = owner, lease_s
        self.on_progress = on_progress or (lambda p: None)
        self.clock = door.clock
        self.audit = door.audit
        self._pool = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="step")

    # -- leases ---------------------------------------------------------------------------

    def lease(self, run_id: str) -> bool:
        """Take (or renew) the run's lease; False when another live replica holds it."""
        now = self.clock.now()
        with Session(self.engine) as session:
            free = (
                _RUNS.c.lease_owner.is_(None)
                | (_RUNS.c.lease_until < now)
                | (_RUNS.c.lease_owner == self.owner)
            )
            taken = session.connection().execute(
                update(_RUNS)
                .where(_RUNS.c.id == run_id, free)
                .values(lease_owner=self.owner, lease_until=now + timedelta(seconds=self.lease_s))
            )
            session.commit()
            return bool(taken.rowcount == 1)

    def renew(self, run_ids: list[str]) -> None:
        """Keep leases of runs this replica is advancing (a step may take minutes)."""
        if not run_ids:
            return
        until = self.clock.now() + timedelta(seconds=self.lease_s)
        with Session(self.engine) as session:
            session.connection().execute(
                update(_RUNS)
                .where(_RUNS.c.id.in_(run_ids), _RUNS.c.lease_owner == self.owner)
                .values(lease_until=until)
            )
            session.commit()

    def release(self, run_id: str) -> None:
        """Give the lease back so any replica may continue the run later."""
        with Session(self.engine) as session:
            session.connection().execute(
                update(_RUNS)
                .where(_RUNS.c.id == run_id, _RUNS.c.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
            )
            session.commit()

    # -- advancing ------------------------------------------------------------------------

    def advance(self, run_id: str, *, max_passes: int = 200) -> None:
        """Move the run as far as it goes now, under its lease; then release the lease."""
        if not self.lease(run_id):
            return
        try:
            for _ in range(max_passes):
                if not self.one_pass(run_id):
                    break
        finally:
            self.release(run_id)

    def one_pass(self, run_id: str) -> bool:
        """One transition of the run; True when another pass may do more right away."""
        with Session(self.engine, expire_on_commit=False) as session:
            run = _get_run(session, run_id)
            if RunStatus(run.status) in (RunStatus.SUCCEEDED, RunStatus.CANCELLED):
                return False
            steps = _steps(session, run_id)
            spec = PlaybookSpec.model_validate(run.spec)
            if run.cancel_requested:
                self._cancel(session, run, spec, steps)
                session.commit()
                return False
            if run.status == RunStatus.FAILED:
                return False
            row = next((s for s in steps if not _settled(s, spec)), None)
            if row is None:
                self._finish_run(session, run, RunStatus.SUCCEEDED, None)
                session.commit()
                return False
            return self._on_step(session, run, spec, steps, row)

    def _on_step(
        self,
        session: Session,
        run: PlaybookRun,
        spec: PlaybookSpec,
        steps: list[PlaybookStep],
        row: PlaybookStep,
    ) -> bool:
        status = StepStatus(row.status)
        if status is StepStatus.PENDING:
            return self._decide(session, run, spec.step(row.step_id), steps, row)
        if status is StepStatus.PENDING_APPROVAL:
            self._set_run(session, run, RunStatus.PAUSED, run.reason)
            session.commit()
            return False
        if status is StepStatus.RUNNING:  # we hold the lease: whoever ran it is gone
            self._orphaned(session, run, row)
            session.commit()
            return True
        if status in (StepStatus.FAILED, StepStatus.REJECTED):
            self._finish_run(session, run, RunStatus.FAILED, row.error)
            session.commit()
            return False
        if status is StepStatus.EXPIRED:
            self._set_run(session, run, RunStatus.PAUSED, row.error)
            session.commit()
            return False
        if (
            status is StepStatus.WAITING
            and run.next_check_at
            and run.next_check_at > self.clock.now()
        ):
            return False
        session.commit()
        return self._execute(run.id, row.id, spec.step(row.step_id))

    # -- deciding -------------------------------------------------------------------------

    def decide_step(
        self,
        run: PlaybookRun,
        step: StepSpec,
        inputs: Mapping[str, Any],
        where: tuple[str | None, str | None],
    ) -> Decision:
        """The policy's answer for one step, judged as the run's requester (agents stay agents)."""
        action = self.actions.get(step.action)
        operation = step.operation or (action.operation if action else step.action)
        return self.door.decider.decide(
            DecisionInput(
                operation=operation,
                environment=judged_in(where[0]),
                service=where[1],
                actor=run.requested_by,
                actor_kind=run.requested_kind,
                context={"playbook": run.playbook, "run_id": run.id, "step": step.id},
            )
        )

    def _decide(
        self,
        session: Session,
        run: PlaybookRun,
        step: StepSpec,
        steps: list[PlaybookStep],
        row: PlaybookStep,
    ) -> bool:
        """Render the step, skip it, or decide it: AUTO goes on, CONSULT/STOP waits for humans."""
        ctx = context_of(run, steps)
        try:
            if step.when and not truthy(step.when, ctx):
                return self._skip(session, run, row, f"condition is false: {step.when}")
            inputs = sanitize(render(dict(step.with_), ctx))
            where = where_step_lands(step, ctx, run)
        except TemplateProblem as exc:
            self._fail_step(session, run, row, f"template: {exc}")
            session.commit()
            return True
        decision = self.decide_step(run, step, inputs, where)
        row.environment, row.service = where
        row.inputs, row.request_hash = inputs, _bound_hash(run, row, inputs)
        row.mode, row.decision_id = decision.final_mode, decision.decision_id
        row.decision = decision.model_dump(mode="json")
        self._record(
            session,
            run,
            row,
            "requested",
            {"event": "decided", "reasons": decision.reasons},
            decision,
        )
        if Mode.parse(decision.final_mode) is Mode.AUTO:
            move(row, StepStatus.APPROVED, STEP_TRANSITIONS, f"step {row.step_id}")
            session.add(row)
            session.commit()
            return True
        self._ask_humans(session, run, row, decision)
        session.commit()
        return False

    def _ask_humans(
        self, session: Session, run: PlaybookRun, row: PlaybookStep, decision: Decision
    ) -> None:
        approval = self.door.open_approval(
            session=session,
            requester=Requester(run.requested_by, run.requested_kind),
            subject_kind=SUBJECT,
            subject_id=row.id,
            decision=decision,
            request_hash=row.request_hash or "",
            summary=f"/{run.playbook} step {row.step_id}: {row.action} "
            f"({row.operation}) in {row.environment or 'production'}",
            explanation=self._explanation(run, row, decision),
        )
        move(row, StepStatus.PENDING_APPROVAL, STEP_TRANSITIONS, f"step {row.step_id}")
        row.approval_id = approval.id
        session.add(row)
        why = "; ".join(decision.reasons[1:]) or decision.reasons[0] if decision.reasons else ""
        reason = (
            f"step {row.step_id} ({row.operation}) is {decision.final_mode}: waits for "
            f"{approval.required} approval(s), approval id {approval.id}"
            + (f", because {why}" if why else "")
        )
        self._set_run(session, run, RunStatus.PAUSED, reason)
        self._tell(run, reason)

    def _explanation(
        self, run: PlaybookRun, row: PlaybookStep, decision: Decision
    ) -> dict[str, Any]:
        return {
            "reasons": decision.reasons,
            "counterfactual": decision.counterfactual,
            "run_id": run.id,
            "playbook": run.playbook,
            "step": row.step_id,
            "action": row.action,
            "request": row.inputs,
            "run_inputs": run.inputs,
        }

    def _skip(self, session: Session, run: PlaybookRun, row: PlaybookStep, why: str) -> bool:
        move(row, StepStatus.SKIPPED, STEP_TRANSITIONS, f"step {row.step_id}")
        row.error, row.finished_at = why, self.clock.now()
        session.add(row)
        self._record(session, run, row, "skipped", {"reason": why})
        session.commit()
        return True

    # -- executing ------------------------------------------------------------------------

    def _execute(self, run_id: str, row_id: str, step: StepSpec) -> bool:
        """Re-check, claim, run the action under its key, record the outcome."""
        with Session(self.engine, expire_on_commit=False) as session:
            run, row = _get_run(session, run_id), _get_step(session, row_id)
            if row.approval_id and self._waits_again(session, run, step, row):
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
            return self._succeeded(
                run_id, row_id, attempt, done, ["already done under this key; not run again"]
            )
        future = self._pool.submit(self._attempt, run_id, row_id, step, attempt, key)
        try:
            return future.result(timeout=step.timeout_s)
        except concurrent.futures.TimeoutError:
            return self._failed(
                run_id, row_id, attempt, step, f"timed out after {step.timeout}", "timeout", True
            )

    def _waits_again(
        self, session: Session, run: PlaybookRun, step: StepSpec, row: PlaybookStep
    ) -> bool:
        """Approved steps are decided again before they run: a stricter mode voids the votes."""
        decision = self.decide_step(run, step, row.inputs, (row.environment, row.service))
        approval = approvals.get_for_update(session=session, request_id=row.approval_id or "")
        reopened = self.door.recheck(
            session=session,
            subject_kind=SUBJECT,
            subject_id=row.id,
            approval=approval,
            approved_mode=row.mode or "STOP",
            decision=decision,
            current_hash=_bound_hash(run, row, row.inputs),
            requester=Requester(run.requested_by, run.requested_kind),
            summary=approval.summary,
            explanation=self._explanation(run, row, decision),
            by=SYSTEM,
        )
        if reopened is None:
            return False
        move(row, StepStatus.PENDING_APPROVAL, STEP_TRANSITIONS, f"step {row.step_id}")
        row.approval_id, row.mode = reopened.id, decision.final_mode
        row.decision, row.decision_id = decision.model_dump(mode="json"), decision.decision_id
        session.add(row)
        reason = f"step {row.step_id} waits again: {reopened.explanation.get('voided_because')}"
        self._set_run(session, run, RunStatus.PAUSED, reason)
        self._tell(run, reason)
        return True

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
        self._set_run(session, run, RunStatus.RUNNING, None)
        self._record(
            session,
            run,
            row,
            "requested",
            {"event": "started", "attempt": row.attempts, "key": attempt.idempotency_key},
        )
        return attempt

    def _ledger(self, key: str) -> dict[str, Any] | None:
        with Session(self.engine) as session:
            done = session.get(PlaybookEffect, key)
            return dict(done.outputs) if done else None

    def _attempt(
        self, run_id: str, row_id: str, step: StepSpec, attempt: PlaybookAttempt, key: str
    ) -> bool:
        """Run the action in its own transaction; its rows commit with the step's success."""
        action = self.actions.get(step.action)
        with Session(self.engine, expire_on_commit=False) as peek:  # short: SQLite writers queue
            run, row = _get_run(peek, run_id), _get_step(peek, row_id)
            peek.commit()
        with Session(self.engine, expire_on_commit=False) as session:  # begun only if written
            ctx = StepContext(
                run_id=run_id,
                step_id=row.step_id,
                idempotency_key=key,
                requester=Requester(run.requested_by, run.requested_kind),
                environment=row.environment,
                service=row.service,
                session=session,
                tools=self.tools,
                now=self.clock.now(),
            )
            try:
                if action is None:
                    raise ActionFailed(
                        f"action {step.action!r} is not registered",
                        error="unknown_action",
                        retryable=False,
                    )
                outputs = sanitize(action.call(ctx, row.inputs))
            except Waiting as wait:
                session.rollback()
                return self._wait(run_id, row_id, attempt, wait.reason, wait.check_in_s, ctx.notes)
            except ActionFailed as exc:
                session.rollback()
                return self._failed(
                    run_id, row_id, attempt, step, exc.reason, exc.error, exc.retryable, ctx.notes
                )
            except Exception as exc:  # an adapter down, a bug: the step fails with the reason
                session.rollback()
                log.warning("step %s of run %s raised %s", step.id, run_id, exc.__class__.__name__)
                reason = redact_text(f"{exc.__class__.__name__}: {exc}")[:1000]
                return self._failed(
                    run_id, row_id, attempt, step, reason, exc.__class__.__name__, True, ctx.notes
                )
            return self._succeeded(
                run_id, row_id, attempt, outputs, ctx.notes, session=session, key=key
            )

    def _succeeded(
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
        own = session is None
        session = session or Session(self.engine, expire_on_commit=False)
        try:
            if not self._still_current(session, row_id, attempt):
                session.rollback()
                return False
            run, row = _get_run(session, run_id), _get_step(session, row_id)
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
            self._set_run(session, run, RunStatus.RUNNING, None)
            self._record(session, run, row, "success", outputs)
            session.commit()
            self._tell(run, f"step {row.step_id} succeeded")
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

    def _failed(
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
            run, row = _get_run(session, run_id), _get_step(session, row_id)
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
                backoff = step.retries.backoff_s * step.retries.multiplier ** (row.attempts - 1)
                move(row, StepStatus.WAITING, STEP_TRANSITIONS, f"step {row.step_id}")
                session.add(row)
                run.next_check_at = self.clock.now() + timedelta(seconds=backoff)
                self._set_run(
                    session,
                    run,
                    RunStatus.WAITING,
                    f"step {row.step_id} failed ({reason}); retry {row.attempts + 1} "
                    f"of {step.retries.attempts} in {backoff:g}s",
                )
                session.commit()
                return backoff <= 0
            self._fail_step(session, run, row, reason)
            session.commit()
            return True

    def _fail_step(
        self, session: Session, run: PlaybookRun, row: PlaybookStep, reason: str
    ) -> None:
        move(row, StepStatus.FAILED, STEP_TRANSITIONS, f"step {row.step_id}")
        row.error, row.finished_at = reason[:2000], self.clock.now()
        session.add(row)
        self._record(session, run, row, "failure", {"error": reason})
        spec = PlaybookSpec.model_validate(run.spec)
        on_failure = spec.step(row.step_id).on_failure
        self._tell(run, f"step {row.step_id} failed: {reason}")
        if on_failure == "continue":
            return
        if on_failure == "compensate":
            self._compensate(session, run, spec, _steps(session, run.id))
        self._finish_run(session, run, RunStatus.FAILED, f"step {row.step_id} failed: {reason}")

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
            run, row = _get_run(session, run_id), _get_step(session, row_id)
            move(row, StepStatus.WAITING, STEP_TRANSITIONS, f"step {row.step_id}")
            row.attempts -= 1
            if notes:
                row.notes = [*row.notes, *notes][-50:]
            session.add(row)
            session.delete(session.get(PlaybookAttempt, attempt.id))
            run.next_check_at = self.clock.now() + timedelta(seconds=check_in_s)
            changed = run.reason != reason
            self._set_run(session, run, RunStatus.WAITING, reason)
            session.commit()
            if changed:
                self._tell(run, reason)
            return False

    def _end_attempt(
        self, session: Session, attempt: PlaybookAttempt, status: str, error: str | None
    ) -> None:
        row = session.get(PlaybookAttempt, attempt.id)
        if row is not None:
            row.status, row.error, row.finished_at = status, error, self.clock.now()
            session.add(row)

    def _orphaned(self, session: Session, run: PlaybookRun, row: PlaybookStep) -> None:
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
        self._record(
            session, run, row, "requested", {"event": "resuming", "previous_owner": row.executed_by}
        )

    # -- cancel and compensate ------------------------------------------------------------

    def _cancel(
        self, session: Session, run: PlaybookRun, spec: PlaybookSpec, steps: list[PlaybookStep]
    ) -> None:
        """Close what waits, cancel what has not run, undo finished steps when asked."""
        for row in steps:
            if row.status == StepStatus.PENDING_APPROVAL and row.approval_id:
                req = approvals.get_for_update(session=session, request_id=row.approval_id)
                if req.status == "pending":
                    approvals.close(
                        session=session,
                        audit=self.audit,
                        clock=self.clock,
                        req=req,
                        status="voided",
                        reason=f"run {run.id} cancelled: {run.cancel_reason}",
                    )
            if StepStatus(row.status) in (
                StepStatus.PENDING,
                StepStatus.PENDING_APPROVAL,
                StepStatus.APPROVED,
                StepStatus.WAITING,
                StepStatus.RESUMING,
                StepStatus.EXPIRED,
            ):
                move(row, StepStatus.CANCELLED, STEP_TRANSITIONS, f"step {row.step_id}")
                row.finished_at = self.clock.now()
                session.add(row)
        if run.compensate_on_cancel:
            self._compensate(session, run, spec, steps)
        self._finish_run(session, run, RunStatus.CANCELLED, f"cancelled: {run.cancel_reason}")

    def _compensate(
        self, session: Session, run: PlaybookRun, spec: PlaybookSpec, steps: list[PlaybookStep]
    ) -> None:
        """Undo finished steps that declare how, newest first; only where the policy says AUTO."""
        ctx = context_of(run, steps)
        for row in sorted(steps, key=lambda s: -s.position):
            undo = spec.step(row.step_id).compensate
            if row.status != StepStatus.SUCCEEDED or undo is None:
                continue
            self._undo(session, run, row, undo.action, undo.with_, ctx)

    def _undo(
        self,
        session: Session,
        run: PlaybookRun,
        row: PlaybookStep,
        name: str,
        with_: Mapping[str, Any],
        ctx: Mapping[str, Any],
    ) -> None:
        action = self.actions.get(name)
        if action is None:
            return
        inputs = sanitize(render(dict(with_), ctx))
        decision = self.door.decider.decide(
            DecisionInput(
                operation=action.operation,
                environment=judged_in(row.environment),
                service=row.service,
                actor=run.requested_by,
                actor_kind=run.requested_kind,
                context={
                    "playbook": run.playbook,
                    "run_id": run.id,
                    "step": row.step_id,
                    "compensation": True,
                },
            )
        )
        if Mode.parse(decision.final_mode) is not Mode.AUTO:
            row.notes = [
                *row.notes,
                f"compensation {name} is {decision.final_mode} here: not run; undo it by hand",
            ]
            session.add(row)
            self._record(
                session,
                run,
                row,
                "skipped",
                {"compensation": name, "mode": decision.final_mode},
                decision,
            )
            return
        step_ctx = StepContext(
            run_id=run.id,
            step_id=row.step_id,
            idempotency_key=f"{run.id}:{row.step_id}:undo",
            requester=Requester(run.requested_by, run.requested_kind),
            environment=row.environment,
            service=row.service,
            session=session,
            tools=self.tools,
            now=self.clock.now(),
        )
        try:
            with session.begin_nested():
                outputs = sanitize(action.call(step_ctx, inputs))
        except Exception as exc:  # a failed undo is recorded; the others still run
            reason = redact_text(f"{exc.__class__.__name__}: {exc}")[:500]
            row.notes = [*row.notes, f"compensation {name} failed: {reason}"]
            session.add(row)
            self._record(
                session, run, row, "failure", {"compensation": name, "error": reason}, decision
            )
            return
        move(row, StepStatus.COMPENSATED, STEP_TRANSITIONS, f"step {row.step_id}")
        row.notes = [*row.notes, *step_ctx.notes, f"compensated by {name}"]
        session.add(row)
        self._record(session, run, row, "success", {"compensation": name, **outputs}, decision)

    # -- run bookkeeping ------------------------------------------------------------------

    def _set_run(
        self, session: Session, run: PlaybookRun, to: RunStatus, reason: str | None
    ) -> None:
        if run.status != to.value:
            move(run, to, RUN_TRANSITIONS, f"run {run.id}")
        run.reason, run.updated_at = reason, self.clock.now()
        session.add(run)

    def _finish_run(
        self, session: Session, run: PlaybookRun, to: RunStatus, reason: str | None
    ) -> None:
        self._set_run(session, run, to, reason)
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
        self._tell(run, f"run {to.value}" + (f": {reason}" if reason else ""))

    def _record(
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

    def _tell(self, run: PlaybookRun, text: str) -> None:
        try:
            self.on_progress(
                Progress(run.id, f"/{run.playbook} {run.id[:8]}: {text}", run.reply_to)
            )
        except Exception as exc:  # progress is news, never a reason to fail a run
            log.warning("progress of run %s not delivered: %s", run.id, exc.__class__.__name__)


def mark_runnable(session: Session) -> None:
    """Wake the run workers (here after commit, and the other replicas on PostgreSQL)."""
    db.mark_changed(session, RUNNABLE)


def _bound_hash(run: PlaybookRun, row: PlaybookStep, inputs: Mapping[str, Any]) -> str:
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


def _settled(row: PlaybookStep, spec: PlaybookSpec) -> bool:
    if StepStatus(row.status) in SETTLED:
        return True
    return row.status == StepStatus.FAILED and spec.step(row.step_id).on_failure == "continue"


def _get_run(session: Session, run_id: str) -> PlaybookRun:
    from controlplane.errors import NotFound

    run = session.get(PlaybookRun, run_id)
    if run is None:
        raise NotFound(f"run {run_id} not found")
    return run


def _get_step(session: Session, row_id: str) -> PlaybookStep:
    row = session.get(PlaybookStep, row_id)
    if row is None:
        raise LookupError(row_id)
    return row


def _steps(session: Session, run_id: str) -> list[PlaybookStep]:
    query = select(PlaybookStep).where(PlaybookStep.run_id == run_id)
    return list(session.exec(query.order_by(col(PlaybookStep.position))).all())


def principal_of(run: PlaybookRun) -> Principal:
    """A stand-in principal for the requester (name and kind; roles come from the identity)."""
    return Principal(
        identity_id="", name=run.requested_by, kind=run.requested_kind, roles=frozenset()
    )


__all__ = [
    "RUNNABLE",
    "SUBJECT",
    "Progress",
    "Runner",
    "context_of",
    "datetime",
    "mark_runnable",
    "step_key",
]
