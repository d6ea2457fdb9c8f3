"""Approval use cases: open a request, vote (quorum, no self-approval, humans only), close."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from sqlmodel import Session, col, select

from controlplane.approval import rules
from controlplane.approval.models import (
    ApprovalPublic,
    ApprovalRequest,
    ApprovalVote,
    VotePublic,
)
from controlplane.errors import Conflict, InvalidSpec, NotFound
from controlplane.identity.models import Principal
from controlplane.policy.models import Decision, Mode

if TYPE_CHECKING:
    from controlplane.context import AppContext

Outcome = Literal["pending", "approved", "rejected", "expired"]
DEFAULT_TTL_S = {"CONSULT": 24 * 3600, "STOP": 3600}
CLOSE_RESULT = {"rejected": "rejected", "expired": "expired"}  # voided/cancelled: halted


def risk_snapshot(decision: Decision) -> list[dict[str, Any]]:
    """The signals as they stood when the request was decided (what the approval is bound to)."""
    return [
        {"name": s.name, "state": s.state, "source": s.source, "counted": s.counted}
        for s in decision.signals
    ]


def open_request(
    *,
    session: Session,
    ctx: AppContext,
    requester: Principal,
    subject_kind: str,
    subject_id: str,
    decision: Decision,
    request_hash: str,
    summary: str,
    explanation: dict[str, Any],
) -> ApprovalRequest:
    """Queue a CONSULT/STOP action for humans, with its quorum and expiry from the policy."""
    policy = ctx.policies.current()
    mode = Mode.parse(decision.final_mode)
    ttl = policy.approvals.ttl_for(mode).total_seconds() if policy else DEFAULT_TTL_S[mode.name]
    now = ctx.clock.now()
    req = ApprovalRequest(
        id=uuid.uuid4().hex,
        subject_kind=subject_kind,
        subject_id=subject_id,
        operation=decision.operation,
        environment=decision.environment.value,
        service=decision.service,
        requester=requester.name,
        requester_kind=requester.kind,
        mode=mode.name,
        required=max(1, decision.required_approvals),
        summary=summary[:500],
        request_hash=request_hash,
        policy_version=decision.policy_version,
        risk_snapshot=risk_snapshot(decision),
        explanation=explanation,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )
    session.add(req)
    session.flush()
    ctx.audit(
        session,
        requester,
        operation="approval.request",
        result="requested",
        environment=req.environment,
        service=req.service,
        base_mode=decision.base_mode,
        final_mode=req.mode,
        decision_id=decision.decision_id,
        inputs={"approval_id": req.id, "subject": f"{subject_kind}/{subject_id}"},
        outputs={"required": req.required, "expires_at": req.expires_at.isoformat()},
    )
    return req


def get(*, session: Session, request_id: str) -> ApprovalRequest:
    """One approval request or 404."""
    req = session.get(ApprovalRequest, request_id)
    if req is None:
        raise NotFound(f"approval {request_id} not found")
    return req


def get_for_update(*, session: Session, request_id: str) -> ApprovalRequest:
    """Load and lock a request (votes on one request are serialized across replicas)."""
    query = select(ApprovalRequest).where(ApprovalRequest.id == request_id).with_for_update()
    req = session.exec(query).first()
    if req is None:
        raise NotFound(f"approval {request_id} not found")
    return req


def approvers(*, session: Session, request_id: str) -> list[str]:
    """Who approved, in order."""
    query = select(ApprovalVote).where(
        ApprovalVote.request_id == request_id, ApprovalVote.verdict == "approve"
    )
    return [v.approver for v in session.exec(query.order_by(col(ApprovalVote.created_at))).all()]


def vote(
    *,
    session: Session,
    ctx: AppContext,
    principal: Principal,
    request_id: str,
    verdict: Literal["approve", "reject"],
    comment: str,
) -> tuple[ApprovalRequest, Outcome]:
    """Record one human's vote; reaching quorum approves, any rejection ends the request."""
    req = get_for_update(session=session, request_id=request_id)
    now = ctx.clock.now()
    if req.status == "pending" and req.expires_at <= now:
        close(
            session=session, ctx=ctx, req=req, status="expired", reason="TTL elapsed", by=principal
        )
        return req, "expired"
    rules.check_open(req.status, req.id)
    policy = ctx.policies.current()
    role = policy.approvals.approver_role if policy else "approver"
    rules.check_voter(principal, requester=req.requester, approver_role=role)
    voted = session.exec(
        select(ApprovalVote).where(
            ApprovalVote.request_id == req.id, ApprovalVote.approver == principal.name
        )
    ).first()
    if voted is not None:
        raise Conflict(
            f"{principal.name} already voted on approval {req.id}", {"verdict": voted.verdict}
        )
    if verdict == "reject" and not comment.strip():
        raise InvalidSpec(
            "a rejection needs a comment saying why",
            {"field": "comment", "reason": "required when rejecting"},
        )
    session.add(
        ApprovalVote(
            id=uuid.uuid4().hex,
            request_id=req.id,
            approver=principal.name,
            verdict=verdict,
            comment=comment,
            created_at=now,
        )
    )
    session.flush()
    names = approvers(session=session, request_id=req.id)
    ctx.audit(
        session,
        principal,
        operation=f"approval.{verdict}",
        result="success",
        environment=req.environment,
        service=req.service,
        final_mode=req.mode,
        approvers=names,
        inputs={"approval_id": req.id, "comment": comment},
        outputs={"approvals": len(names), "required": req.required},
    )
    if verdict == "reject":
        close(session=session, ctx=ctx, req=req, status="rejected", reason=comment, by=principal)
        return req, "rejected"
    if len(names) >= req.required:
        req.status = "approved"
        req.closed_at = now
        session.add(req)
        session.flush()
        return req, "approved"
    return req, "pending"


def close(
    *,
    session: Session,
    ctx: AppContext,
    req: ApprovalRequest,
    status: str,
    reason: str,
    by: Principal,
) -> None:
    """End a request (rejected, expired, voided, cancelled) and record why."""
    req.status = status
    req.closed_at = ctx.clock.now()
    req.closed_reason = reason[:500]
    session.add(req)
    session.flush()
    ctx.audit(
        session,
        by,
        operation=f"approval.{status}",
        result=CLOSE_RESULT.get(status, "halted"),
        environment=req.environment,
        service=req.service,
        final_mode=req.mode,
        inputs={"approval_id": req.id},
        outputs={"reason": reason},
    )


def to_public(
    *, session: Session, req: ApprovalRequest, now: datetime | None = None
) -> ApprovalPublic:
    """A request with its votes; a pending request past its TTL shows as expired."""
    votes = session.exec(
        select(ApprovalVote)
        .where(ApprovalVote.request_id == req.id)
        .order_by(col(ApprovalVote.created_at))
    ).all()
    status = req.status
    if status == "pending" and now is not None and req.expires_at <= now:
        status = "expired"
    data = req.model_dump()
    data.update(
        status=status,
        approvals=sum(1 for v in votes if v.verdict == "approve"),
        votes=[VotePublic.model_validate(v, from_attributes=True) for v in votes],
    )
    return ApprovalPublic(**data)


def list_requests(*, session: Session, ctx: AppContext, status: str | None) -> list[ApprovalPublic]:
    """Requests, oldest first (what waits longest is seen first)."""
    query = select(ApprovalRequest)
    if status:
        query = query.where(ApprovalRequest.status == status)
    rows = session.exec(query.order_by(col(ApprovalRequest.created_at)).limit(500)).all()
    now = ctx.clock.now()
    out = [to_public(session=session, req=r, now=now) for r in rows]
    return [a for a in out if status is None or a.status == status]
