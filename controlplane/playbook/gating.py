"""Deciding a step before it runs: render it, skip it, or ask the policy as the run's requester.

AUTO goes on; CONSULT/STOP opens an approval in the door's queue and pauses the run. An approved
step is decided again right before it runs (`waits_again`): a stricter mode, or a stored request
that no longer matches what was approved, voids the votes and the step waits for humans again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from controlplane.approval import service as approvals
from controlplane.audit.redact import sanitize
from controlplane.clock import Clock
from controlplane.governance.kinds import judged_in
from controlplane.governance.service import Door
from controlplane.identity.models import SYSTEM
from controlplane.playbook.actions.base import ActionRegistry, Requester
from controlplane.playbook.compensation import Compensator
from controlplane.playbook.journal import Journal
from controlplane.playbook.models import PlaybookRun, PlaybookStep
from controlplane.playbook.rows import SUBJECT, bound_hash, context_of, where_step_lands
from controlplane.playbook.spec import StepSpec
from controlplane.playbook.states import STEP_TRANSITIONS, RunStatus, StepStatus, move
from controlplane.playbook.template import TemplateProblem, render, truthy
from controlplane.policy.models import Decision, DecisionInput, Mode


class StepGate:
    """Lets a step through (AUTO), skips it, or parks it for humans in the door's queue."""

    def __init__(
        self,
        *,
        door: Door,
        actions: ActionRegistry,
        clock: Clock,
        journal: Journal,
        compensator: Compensator,
    ) -> None:
        self.door, self.actions, self.clock = door, actions, clock
        self.journal, self.compensator = journal, compensator

    def decide_step(
        self,
        session: Session,
        run: PlaybookRun,
        step: StepSpec,
        inputs: Mapping[str, Any],
        where: tuple[str | None, str | None],
    ) -> Decision:
        """The policy's answer for one step, judged as the run's requester (agents stay agents).

        The rules see the step's inputs and what the records say (an incident's severity), so a
        rule that raises the mode for the API's call raises it for the playbook's step too.
        """
        action = self.actions.get(step.action)
        operation = step.operation or (action.operation if action else step.action)
        seen = action.policy_context(session, inputs) if action else {}
        return self.door.decider.decide(
            DecisionInput(
                operation=operation,
                environment=judged_in(where[0]),
                service=where[1],
                actor=run.requested_by,
                actor_kind=run.requested_kind,
                context={**seen, "playbook": run.playbook, "run_id": run.id, "step": step.id},
            )
        )

    def decide(
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
            self.compensator.fail_step(session, run, row, f"template: {exc}")
            session.commit()
            return True
        decision = self.decide_step(session, run, step, inputs, where)
        row.environment, row.service = where
        row.inputs, row.request_hash = inputs, bound_hash(run, row, inputs)
        row.mode, row.decision_id = decision.final_mode, decision.decision_id
        row.decision = decision.model_dump(mode="json")
        self.journal.record(
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

    def waits_again(
        self, session: Session, run: PlaybookRun, step: StepSpec, row: PlaybookStep
    ) -> bool:
        """Approved steps are decided again before they run: a stricter mode voids the votes."""
        decision = self.decide_step(session, run, step, row.inputs, (row.environment, row.service))
        approval = approvals.get_for_update(session=session, request_id=row.approval_id or "")
        reopened = self.door.recheck(
            session=session,
            subject_kind=SUBJECT,
            subject_id=row.id,
            approval=approval,
            approved_mode=row.mode or "STOP",
            decision=decision,
            current_hash=bound_hash(run, row, row.inputs),
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
        self.journal.set_run(session, run, RunStatus.PAUSED, reason)
        self.journal.tell(run, reason)
        return True

    def _ask_humans(
        self, session: Session, run: PlaybookRun, row: PlaybookStep, decision: Decision
    ) -> None:
        """Open the step's approval in the door's queue and pause the run until it is decided."""
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
        self.journal.set_run(session, run, RunStatus.PAUSED, reason)
        self.journal.tell(run, reason)

    def _explanation(
        self, run: PlaybookRun, row: PlaybookStep, decision: Decision
    ) -> dict[str, Any]:
        """What approvers see: the policy's reasons and the exact request of the step."""
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
        """The step's `when` is false: it is skipped, and the run goes on."""
        move(row, StepStatus.SKIPPED, STEP_TRANSITIONS, f"step {row.step_id}")
        row.error, row.finished_at = why, self.clock.now()
        session.add(row)
        self.journal.record(session, run, row, "skipped", {"reason": why})
        session.commit()
        return True


__all__ = ["StepGate"]
