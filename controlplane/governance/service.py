"""The door: every state change of the plane goes through `Door.submit` or `Door.vote`.

One life for each governed change (DESIGN §1): build the request, decide it with the policy and
live signals; AUTO executes now, CONSULT/STOP opens an approval bound to the request hash, policy
version and risk snapshot; on quorum the request is decided again (a stricter mode voids the
approvals and it waits again), claimed and executed exactly once, and the outcome recorded.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlmodel import Session, col, select

from controlplane.approval import rules
from controlplane.approval import service as approvals
from controlplane.approval.models import ApprovalRequest
from controlplane.audit.chain import canonical_bytes
from controlplane.audit.recorder import Actor, Recorder
from controlplane.audit.redact import sanitize
from controlplane.clock import Clock
from controlplane.errors import ControlPlaneError, Forbidden, NotFound
from controlplane.governance.kinds import (
    ActionKind,
    Effect,
    Registry,
    Requester,
)
from controlplane.governance.models import ActionPublic, GovernedAction
from controlplane.governance.states import ACTION_TRANSITIONS, ActionStatus, move
from controlplane.identity.models import SYSTEM, Principal
from controlplane.policy.models import Decision, DecisionInput, Mode
from controlplane.policy.service import Decider
from controlplane.policy.store import PolicyStore

VoteOutcome = Literal["pending", "approved", "rejected", "expired"]


def request_hash(payload: Mapping[str, Any]) -> str:
    """sha256 of a request's canonical JSON: what an approval is bound to."""
    return hashlib.sha256(canonical_bytes(payload)).hexdigest()


def decision_fields(decision: Decision) -> dict[str, Any]:
    """The decision as an audit record keeps it."""
    return {
        "environment": decision.environment.value,
        "service": decision.service,
        "base_mode": decision.base_mode,
        "final_mode": decision.final_mode,
        "signals": [s.model_dump(mode="json") for s in decision.signals],
        "decision_id": decision.decision_id,
        "policy_version": decision.policy_version,
    }


@dataclass(frozen=True)
class VoteResult:
    """What a vote did: the request, where it stands, and whether its change runs later
    (a subject such as a deployment runs off the request; a door-stored action ran already)."""

    approval: ApprovalRequest
    outcome: VoteOutcome
    runs_later: bool = False


class Door:
    """Decides, queues for approval, re-decides and executes every governed change."""

    def __init__(
        self,
        *,
        registry: Registry,
        decider: Decider,
        audit: Recorder,
        clock: Clock,
        policies: PolicyStore,
    ) -> None:
        self.registry = registry
        self.decider = decider
        self.audit = audit
        self.clock = clock
        self.policies = policies

    # -- asking ------------------------------------------------------------------------------

    def submit(
        self, *, session: Session, principal: Principal, operation: str, payload: Mapping[str, Any]
    ) -> GovernedAction:
        """Ask for a change of the plane: AUTO runs it in this transaction, else it waits."""
        kind = self.registry.kind(operation)
        authorize(kind, principal)
        requester = Requester(principal.name, principal.kind)
        stored = sanitize(dict(payload))
        kind.check(session, stored, requester)
        decision = self._decide(kind, stored, requester)
        auto = Mode.parse(decision.final_mode) is Mode.AUTO
        row = GovernedAction(
            id=uuid.uuid4().hex,
            kind=operation,
            environment=decision.environment.value,
            service=decision.service,
            summary=kind.summary(stored)[:500],
            request=stored,
            request_hash=request_hash(stored),
            requested_by=principal.name,
            requested_kind=principal.kind,
            status=(ActionStatus.APPROVED if auto else ActionStatus.PENDING_APPROVAL).value,
            mode=decision.final_mode,
            decision_id=decision.decision_id,
            decision=decision.model_dump(mode="json"),
            created_at=self.clock.now(),
        )
        session.add(row)
        session.flush()
        self.audit.record(
            session,
            principal,
            operation=operation,
            result="requested",
            inputs={"action_id": row.id, "request": stored},
            outputs={"reasons": decision.reasons, "counterfactual": decision.counterfactual},
            **decision_fields(decision),
        )
        if auto:
            self._run(session, kind, row, actor=principal, approvers=(), catch=False)
        else:
            approval = self.open_approval(
                session=session,
                requester=requester,
                subject_kind=operation,
                subject_id=row.id,
                decision=decision,
                request_hash=row.request_hash,
                summary=row.summary,
                explanation=self._explanation(session, kind, row, decision),
            )
            row.approval_id = approval.id
            session.add(row)
            session.flush()
        return row

    def open_approval(
        self,
        *,
        session: Session,
        requester: Actor,
        subject_kind: str,
        subject_id: str,
        decision: Decision,
        request_hash: str,
        summary: str,
        explanation: dict[str, Any],
    ) -> ApprovalRequest:
        """Queue a CONSULT/STOP change for humans (deployments call this too)."""
        return approvals.open_request(
            session=session,
            audit=self.audit,
            clock=self.clock,
            policies=self.policies,
            requester=requester,
            subject_kind=subject_kind,
            subject_id=subject_id,
            decision=decision,
            request_hash=request_hash,
            summary=summary,
            explanation=explanation,
        )

    # -- voting ------------------------------------------------------------------------------

    def vote(
        self,
        *,
        session: Session,
        principal: Principal,
        approval_id: str,
        verdict: approvals.Verdict,
        comment: str,
    ) -> VoteResult:
        """Check and record one human's vote; a quorum runs the change, a rejection ends it."""
        req = approvals.get_for_update(session=session, request_id=approval_id)
        if approvals.is_expired(req, self.clock.now()):
            self._end(session, req, "expired", "TTL elapsed before this vote", by=principal)
            return VoteResult(req, "expired")
        approvals.check_vote(
            session=session,
            policies=self.policies,
            principal=principal,
            req=req,
            verdict=verdict,
            comment=comment,
        )
        outcome = approvals.record_vote(
            session=session,
            audit=self.audit,
            clock=self.clock,
            principal=principal,
            req=req,
            verdict=verdict,
            comment=comment,
        )
        if outcome == "rejected":
            self._tell_closed(session, req, "rejected", comment)
            return VoteResult(req, "rejected")
        if outcome == "approved":
            return VoteResult(req, "approved", self._approved(session, req, principal))
        return VoteResult(req, "pending")

    def recheck(
        self,
        *,
        session: Session,
        subject_kind: str,
        subject_id: str,
        approval: ApprovalRequest | None,
        approved_mode: str,
        decision: Decision,
        current_hash: str,
        requester: Actor,
        summary: str,
        explanation: dict[str, Any],
        by: Actor,
    ) -> ApprovalRequest | None:
        """Before executing: if the stored request changed or the mode is now stricter than what
        was approved, void the approvals and open a new request (returned); None means go."""
        why = _void_reason(approval, approved_mode, decision, current_hash)
        if why is None:
            return None
        if approval is not None:
            approvals.close(
                session=session,
                audit=self.audit,
                clock=self.clock,
                req=approval,
                status="voided",
                reason=why,
                by=by,
            )
        return self.open_approval(
            session=session,
            requester=requester,
            subject_kind=subject_kind,
            subject_id=subject_id,
            decision=decision,
            request_hash=current_hash,
            summary=summary,
            explanation={**explanation, "reasons": decision.reasons, "voided_because": why},
        )

    def expire_due(self, *, session: Session) -> list[str]:
        """Close pending approvals past their TTL, and end their subjects (the sweeper)."""
        now = self.clock.now()
        due = session.exec(
            select(ApprovalRequest).where(
                ApprovalRequest.status == "pending", col(ApprovalRequest.expires_at) <= now
            )
        ).all()
        ended = []
        for stale in due:
            req = approvals.get_for_update(session=session, request_id=stale.id)
            if approvals.is_expired(req, now):  # a vote may have closed it meanwhile
                self._end(session, req, "expired", "TTL elapsed with no quorum", by=SYSTEM)
                ended.append(req.id)
        return ended

    # -- inside the door ---------------------------------------------------------------------

    def _decide(self, kind: ActionKind, payload: Mapping[str, Any], who: Requester) -> Decision:
        scope = kind.scope(payload)
        return self.decider.decide(
            DecisionInput(
                operation=kind.operation,
                environment=scope.environment,
                service=scope.service,
                actor=who.name,
                actor_kind=who.kind,
                context=kind.context(payload),
            )
        )

    def _explanation(
        self, session: Session, kind: ActionKind, row: GovernedAction, decision: Decision
    ) -> dict[str, Any]:
        return {
            "reasons": decision.reasons,
            "counterfactual": decision.counterfactual,
            "request": row.request,
            **kind.explain(session, row.request),
        }

    def _approved(self, session: Session, req: ApprovalRequest, actor: Principal) -> bool:
        """The quorum is reached. A door-stored action is re-decided and run here; a subject
        runs when it executes, re-checking through `recheck` then (deployments: the worker).
        True when the change runs after this answer."""
        if self.registry.is_kind(req.subject_kind):
            self._approved_action(session, req, actor)
            return False
        subject = self.registry.subject(req.subject_kind)
        if subject is None:  # fail closed: nothing runs that no domain claims
            raise NotFound(f"no governed subject {req.subject_kind!r} to run approval {req.id}")
        subject.approved(session, req.subject_id, actor)
        return True

    def _approved_action(self, session: Session, req: ApprovalRequest, actor: Principal) -> None:
        kind = self.registry.kind(req.subject_kind)
        row = _lock_action(session, req.subject_id)
        requester = Requester(row.requested_by, row.requested_kind)
        decision = self._decide(kind, row.request, requester)
        reopened = self.recheck(
            session=session,
            subject_kind=row.kind,
            subject_id=row.id,
            approval=req,
            approved_mode=req.mode,
            decision=decision,
            current_hash=request_hash(row.request),
            requester=requester,
            summary=row.summary,
            explanation=req.explanation,
            by=actor,
        )
        if reopened is not None:
            move(row, ActionStatus.PENDING_APPROVAL, ACTION_TRANSITIONS, f"action {row.id}")
            row.approval_id, row.mode = reopened.id, decision.final_mode
            row.decision, row.decision_id = decision.model_dump(mode="json"), decision.decision_id
            session.add(row)
            return
        move(row, ActionStatus.APPROVED, ACTION_TRANSITIONS, f"action {row.id}")
        names = tuple(approvals.approvers(session=session, request_id=req.id))
        self._run(session, kind, row, actor=actor, approvers=names, catch=True)

    def _run(
        self,
        session: Session,
        kind: ActionKind,
        row: GovernedAction,
        *,
        actor: Principal,
        approvers: tuple[str, ...],
        catch: bool,
    ) -> None:
        """Claim (approved -> executing) and execute once; record the outcome.

        After an approval (`catch`), a failure is recorded as `failed` and the votes are kept;
        on the AUTO path it propagates and the whole request is refused.
        """
        move(row, ActionStatus.EXECUTING, ACTION_TRANSITIONS, f"action {row.id}")
        row.executed_by = actor.name
        requester = Requester(row.requested_by, row.requested_kind)
        effect = Effect(session, row.id, row.request, requester, actor, approvers)
        try:
            with session.begin_nested():
                kind.check(session, row.request, requester)
                outputs = sanitize(kind.execute(effect))
        except Exception as exc:  # rolled back to the savepoint: the votes are kept
            if not catch:
                raise
            reason = exc.message if isinstance(exc, ControlPlaneError) else repr(exc)[:500]
            self._finish(session, row, actor, approvers, failure=reason)
            return
        row.outputs = outputs
        self._finish(session, row, actor, approvers, failure=None)

    def _finish(
        self,
        session: Session,
        row: GovernedAction,
        actor: Principal,
        approvers: tuple[str, ...],
        *,
        failure: str | None,
    ) -> None:
        to = ActionStatus.FAILED if failure else ActionStatus.SUCCEEDED
        move(row, to, ACTION_TRANSITIONS, f"action {row.id}")
        row.failure_reason = failure
        row.finished_at = self.clock.now()
        line = self.audit.record(
            session,
            actor,
            operation=row.kind,
            result="failure" if failure else "success",
            environment=row.environment,
            service=row.service,
            final_mode=row.mode,
            decision_id=row.decision_id,
            approvers=approvers,
            inputs={"action_id": row.id},
            outputs={"error": failure} if failure else row.outputs,
        )
        row.audit_seq = line.seq
        session.add(row)
        session.flush()

    def _end(
        self, session: Session, req: ApprovalRequest, status: Literal["rejected", "expired"],
        reason: str, by: Actor,
    ) -> None:  # fmt: skip
        approvals.close(
            session=session, audit=self.audit, clock=self.clock, req=req, status=status,
            reason=reason, by=by,
        )  # fmt: skip
        self._tell_closed(session, req, status, reason)

    def _tell_closed(
        self, session: Session, req: ApprovalRequest, status: Literal["rejected", "expired"],
        reason: str,
    ) -> None:  # fmt: skip
        """The request ends: its subject (action or domain) takes the same status."""
        if self.registry.is_kind(req.subject_kind):
            row = _lock_action(session, req.subject_id)
            move(row, ActionStatus(status), ACTION_TRANSITIONS, f"action {row.id}")
            row.failure_reason = f"{status}: {reason}"[:2000]
            row.finished_at = self.clock.now()
            session.add(row)
            session.flush()
            return
        subject = self.registry.subject(req.subject_kind)
        if subject is not None:
            subject.closed(session, req.subject_id, status, reason)

    # -- reading -----------------------------------------------------------------------------

    def public(self, session: Session, row: GovernedAction) -> ActionPublic:
        """A governed action with its approval progress and a line for people."""
        required = int(row.decision.get("required_approvals", 0))
        count = (
            len(approvals.approvers(session=session, request_id=row.approval_id))
            if (row.approval_id)
            else 0
        )
        return ActionPublic(
            **row.model_dump(
                include={
                    "id", "kind", "status", "mode", "environment", "service", "summary",
                    "requested_by", "requested_kind", "approval_id", "decision", "outputs",
                    "failure_reason", "executed_by", "audit_seq", "created_at", "finished_at",
                }
            ),
            approvals=count,
            required_approvals=required if row.approval_id else 0,
            message=message(row, count, required),
        )  # fmt: skip


def _void_reason(
    approval: ApprovalRequest | None, approved_mode: str, decision: Decision, current_hash: str
) -> str | None:
    """Why approvals no longer cover the request: it changed, its mode is stricter now, or the
    policy asks more humans for it than approved it; None when they still hold."""
    if approval is not None and approval.request_hash != current_hash:
        return "the stored request changed after it was approved"
    if rules.is_stricter(decision.final_mode, approved_mode):
        return f"mode is now {decision.final_mode} (was {approved_mode}): " + "; ".join(
            decision.reasons[1:]
        )
    if approval is not None and decision.required_approvals > approval.required:
        return (
            f"the policy now asks {decision.required_approvals} approvals for this "
            f"(approved with {approval.required})"
        )
    return None


def authorize(kind: ActionKind, principal: Principal) -> None:
    """Refuse (403) a caller who lacks the kind's role, or a machine where only humans may ask."""
    if not principal.has(kind.role):
        raise Forbidden(
            f"{principal.name} ({principal.kind}) lacks the {kind.role!r} role "
            f"for {kind.operation}",
            {"required_role": kind.role, "roles": sorted(principal.roles)},
        )
    if kind.humans_only and principal.kind != "human":
        raise Forbidden(
            f"{kind.operation} is never done by a {principal.kind} identity: {kind.refusal}",
            {"operation": kind.operation, "kind": principal.kind},
        )


def waiting_message(
    mode: str | None,
    approvals_: int,
    required: int,
    approval_id: str | None,
    decision: dict[str, Any],
) -> str:
    """The line a waiting change shows: how far its approval is, and why it waits."""
    reasons = [r for r in decision.get("reasons", []) if "disabled" not in r]  # noise here
    why = "; ".join(reasons) or decision.get("counterfactual", "")
    return f"{mode}: pending approval {approvals_} of {required}, approval id {approval_id}" + (
        f", because {why}" if why else ""
    )


def message(row: GovernedAction, approvals_: int, required: int) -> str:
    """What a person or agent should read first about an action."""
    if row.status == ActionStatus.PENDING_APPROVAL:
        return waiting_message(row.mode, approvals_, required, row.approval_id, row.decision)
    if row.status == ActionStatus.SUCCEEDED:
        return f"done: {row.summary}"
    if row.failure_reason:
        return f"{row.status}: {row.failure_reason}"
    return row.status


def _lock_action(session: Session, action_id: str) -> GovernedAction:
    query = select(GovernedAction).where(GovernedAction.id == action_id).with_for_update()
    row = session.exec(query).first()
    if row is None:
        raise NotFound(f"governed action {action_id} not found")
    return row


def get(*, session: Session, action_id: str) -> GovernedAction:
    """One governed action or 404."""
    row = session.get(GovernedAction, action_id)
    if row is None:
        raise NotFound(f"governed action {action_id} not found")
    return row


def list_actions(
    *, session: Session, kind: str | None, status: str | None, limit: int
) -> list[GovernedAction]:
    """Governed actions, newest first."""
    query = select(GovernedAction)
    if kind:
        query = query.where(GovernedAction.kind == kind)
    if status:
        query = query.where(GovernedAction.status == status)
    return list(session.exec(query.order_by(col(GovernedAction.created_at).desc()).limit(limit)))
