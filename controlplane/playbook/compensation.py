"""How a run unwinds: a failed step's `on_failure`, a cancel, and undoing finished steps.

Compensation runs in the caller's transaction, newest step first, each undo in a savepoint so a
failed one is recorded and the others still run; an undo is judged as the requester and runs only
where the policy says AUTO (else the step's notes say to undo it by hand).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from controlplane.approval import service as approvals
from controlplane.audit.recorder import Recorder
from controlplane.audit.redact import redact_text, sanitize
from controlplane.clock import Clock
from controlplane.governance.kinds import judged_in
from controlplane.playbook.actions.base import ActionRegistry
from controlplane.playbook.journal import Journal
from controlplane.playbook.models import PlaybookRun, PlaybookStep
from controlplane.playbook.rows import action_context, context_of, steps_of
from controlplane.playbook.spec import PlaybookSpec
from controlplane.playbook.states import STEP_TRANSITIONS, RunStatus, StepStatus, move
from controlplane.playbook.template import render
from controlplane.policy.models import Decision, DecisionInput, Mode
from controlplane.policy.service import Decider

_CANCELLABLE = (
    StepStatus.PENDING,
    StepStatus.PENDING_APPROVAL,
    StepStatus.APPROVED,
    StepStatus.WAITING,
    StepStatus.RESUMING,
    StepStatus.EXPIRED,
)


class Compensator:
    """Ends runs that go wrong: fails steps, cancels runs, undoes what they did when asked."""

    def __init__(
        self,
        *,
        decider: Decider,
        actions: ActionRegistry,
        tools: Any,
        clock: Clock,
        audit: Recorder,
        journal: Journal,
    ) -> None:
        self.decider, self.actions, self.tools = decider, actions, tools
        self.clock, self.audit, self.journal = clock, audit, journal

    def fail_step(self, session: Session, run: PlaybookRun, row: PlaybookStep, reason: str) -> None:
        """Fail the step, then its `on_failure`: go on, undo and fail the run, or fail the run."""
        move(row, StepStatus.FAILED, STEP_TRANSITIONS, f"step {row.step_id}")
        row.error, row.finished_at = reason[:2000], self.clock.now()
        session.add(row)
        self.journal.record(session, run, row, "failure", {"error": reason})
        spec = PlaybookSpec.model_validate(run.spec)
        on_failure = spec.step(row.step_id).on_failure
        self.journal.tell(run, f"step {row.step_id} failed: {reason}")
        if on_failure == "continue":
            return
        if on_failure == "compensate":
            self.compensate(session, run, spec, steps_of(session, run.id))
        self.journal.finish_run(
            session, run, RunStatus.FAILED, f"step {row.step_id} failed: {reason}"
        )

    def cancel(
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
            if StepStatus(row.status) in _CANCELLABLE:
                move(row, StepStatus.CANCELLED, STEP_TRANSITIONS, f"step {row.step_id}")
                row.finished_at = self.clock.now()
                session.add(row)
        if run.compensate_on_cancel:
            self.compensate(session, run, spec, steps)
        self.journal.finish_run(
            session, run, RunStatus.CANCELLED, f"cancelled: {run.cancel_reason}"
        )

    def compensate(
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
        """Run one compensation under the step's undo key; record it, undone or not."""
        action = self.actions.get(name)
        if action is None:  # the loader checks names; a plane without that action any more
            row.notes = [*row.notes, f"compensation {name} is not registered: undo it by hand"]
            session.add(row)
            self.journal.record(session, run, row, "skipped", {"compensation": name})
            return
        inputs = sanitize(render(dict(with_), ctx))
        decision = self._judge_undo(run, row, action.operation)
        if Mode.parse(decision.final_mode) is not Mode.AUTO:
            self._leave_to_hand(session, run, row, name, decision)
            return
        key = f"{run.id}:{row.step_id}:undo"
        step_ctx = action_context(
            run, row, key=key, session=session, tools=self.tools, now=self.clock.now()
        )
        try:
            with session.begin_nested():
                outputs = sanitize(action.call(step_ctx, inputs))
        except Exception as exc:  # a failed undo is recorded; the others still run
            reason = redact_text(f"{exc.__class__.__name__}: {exc}")[:500]
            row.notes = [*row.notes, f"compensation {name} failed: {reason}"]
            session.add(row)
            self.journal.record(
                session, run, row, "failure", {"compensation": name, "error": reason}, decision
            )
            return
        move(row, StepStatus.COMPENSATED, STEP_TRANSITIONS, f"step {row.step_id}")
        row.notes = [*row.notes, *step_ctx.notes, f"compensated by {name}"]
        session.add(row)
        self.journal.record(
            session, run, row, "success", {"compensation": name, **outputs}, decision
        )

    def _leave_to_hand(
        self,
        session: Session,
        run: PlaybookRun,
        row: PlaybookStep,
        name: str,
        decision: Decision,
    ) -> None:
        """An undo the policy does not let run alone: say so on the step and in the audit log."""
        row.notes = [
            *row.notes,
            f"compensation {name} is {decision.final_mode} here: not run; undo it by hand",
        ]
        session.add(row)
        self.journal.record(
            session,
            run,
            row,
            "skipped",
            {"compensation": name, "mode": decision.final_mode},
            decision,
        )

    def _judge_undo(self, run: PlaybookRun, row: PlaybookStep, operation: str) -> Decision:
        """The policy's answer for an undo, judged as the requester where the step landed."""
        return self.decider.decide(
            DecisionInput(
                operation=operation,
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


__all__ = ["Compensator"]
