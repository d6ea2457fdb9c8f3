"""Approval use cases: open a request, check and record votes, close; generic over subject kinds.

The queue stores the request, its votes and its status. What the request is about (a deployment,
a signal suppression...) is only `subject_kind` and `subject_id` here: the governance door tells
the subject's domain when a request is approved, rejected or expired.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlmodel import Session, col, select

from controlplane.approval import rules
from controlplane.approval.models import (
    APPROVAL_TRANSITIONS,
    ApprovalPublic,
    ApprovalRequest,
    ApprovalStatus,
    ApprovalVote,
    VotePublic,
)
from controlplane.audit.recorder import Actor, Recorder
from controlplane.clock import Clock
from controlplane.errors import Conflict, InvalidSpec, NotFound
from controlplane.governance.states import move
from controlplane.identity.models import SYSTEM, Principal
from controlplane.policy.models import Decision, Mode
from controlplane.policy.store import PolicyStore

Verdict = Literal["approve", "reject"]
Outcome = Literal["pending", "approved", "rejected"]
DEFAULT_TTL_S = {"CONSULT": 24 * 3600, "STOP": 3600}
CLOSE_RESULT = {"rejected": "rejected", "expired": "expired"}  # voided: halted


def risk_snapshot(decision: Decision) -> list[dict[str, Any]]:
    """The signals as they stood when the request was decided (what the approval is bound to)."""
    return [
        {"name": s.name, "state": s.state, "source": s.source, "counted": s.counted}
        for s in decision.signals
    ]


def open_request(
    *,
    session: Session,
    audit: Recorder,
    clock: Clock,
    policies: PolicyStore,
    requester: Actor,
    subject_kind: str,
    subject_id: str,
    decision: Decision,
    request_hash: str,
    summary: str,
    explanation: dict[str, Any],
) -> ApprovalRequest:
    """Queue a CONSULT/STOP change for humans, with its quorum and expiry from the policy."""
    policy = policies.current()
    mode = Mode.parse(decision.final_mode)
    ttl = policy.approvals.ttl_for(mode).total_seconds() if policy else DEFAULT_TTL_S[mode.name]
    now = clock.now()
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
        required=max(1, decision.required_approvals),  # fail closed: never zero humans
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
    audit.record(
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


def is_expired(req: ApprovalRequest, now: datetime) -> bool:
    """A pending request past its TTL takes no votes and ends as expired."""
    return req.status == ApprovalStatus.PENDING and req.expires_at <= now


def check_vote(
    *,
    session: Session,
    policies: PolicyStore,
    principal: Principal,
    req: ApprovalRequest,
    verdict: Verdict,
    comment: str,
) -> None:
    """The one check every voting path runs first (API, CLI, chat, MCP, dashboard).

    Only pending requests take votes; agents and CI never approve; nobody approves their own
    request; the approver role is required; one vote per person; a rejection says why.
    """
    rules.check_open(req.status, req.id)
    policy = policies.current()
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


def record_vote(
    *,
    session: Session,
    audit: Recorder,
    clock: Clock,
    principal: Principal,
    req: ApprovalRequest,
    verdict: Verdict,
    comment: str,
) -> Outcome:
    """Store a checked vote; reaching the quorum approves, any rejection ends the request."""
    now = clock.now()
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
    audit.record(
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
        close(session=session, audit=audit, clock=clock, req=req, status="rejected", reason=comment)
        return "rejected"
    if len(names) >= req.required:
        move(req, ApprovalStatus.APPROVED, APPROVAL_TRANSITIONS, f"approval {req.id}")
        req.closed_at = now
        session.add(req)
        session.flush()
        return "approved"
    return "pending"


def close(
    *,
    session: Session,
    audit: Recorder,
    clock: Clock,
    req: ApprovalRequest,
    status: Literal["rejected", "expired", "voided"],
    reason: str,
    by: Actor | None = None,
) -> None:
    """End a request (rejected, expired, voided) and record why."""
    move(req, ApprovalStatus(status), APPROVAL_TRANSITIONS, f"approval {req.id}")
    req.closed_at = clock.now()
    req.closed_reason = reason[:500]
    session.add(req)
    session.flush()
    audit.record(
        session,
        by or SYSTEM,
        operation=f"approval.{status}",
        result=CLOSE_RESULT.get(status, "halted"),
        environment=req.environment,
        service=req.service,
        final_mode=req.mode,
        inputs={"approval_id": req.id, "subject": f"{req.subject_kind}/{req.subject_id}"},
        outputs={"reason": reason},
    )


def votes_of(*, session: Session, ids: Sequence[str]) -> dict[str, list[ApprovalVote]]:
    """The votes of several requests in one query, in order."""
    found: dict[str, list[ApprovalVote]] = {i: [] for i in ids}
    if not ids:
        return found
    query = select(ApprovalVote).where(col(ApprovalVote.request_id).in_(list(ids)))
    for vote in session.exec(query.order_by(col(ApprovalVote.created_at))).all():
        found[vote.request_id].append(vote)
    return found


def to_public(
    req: ApprovalRequest, votes: Sequence[ApprovalVote], now: datetime | None = None
) -> ApprovalPublic:
    """A request with its votes; a pending request past its TTL shows as expired."""
    status = req.status
    if now is not None and is_expired(req, now):
        status = ApprovalStatus.EXPIRED.value
    data = req.model_dump()
    data.update(
        status=status,
        approvals=sum(1 for v in votes if v.verdict == "approve"),
        votes=[VotePublic.model_validate(v, from_attributes=True) for v in votes],
    )
    return ApprovalPublic(**data)


def show(*, session: Session, clock: Clock, request_id: str) -> ApprovalPublic:
    """One request with its votes."""
    req = get(session=session, request_id=request_id)
    votes = votes_of(session=session, ids=[req.id])[req.id]
    return to_public(req, votes, clock.now())


def list_requests(*, session: Session, clock: Clock, status: str | None) -> list[ApprovalPublic]:
    """Requests, oldest first (what waits longest is seen first)."""
    query = select(ApprovalRequest)
    if status == ApprovalStatus.EXPIRED:
        query = query.where(col(ApprovalRequest.status).in_(("pending", "expired")))
    elif status:
        query = query.where(ApprovalRequest.status == status)
    rows = session.exec(query.order_by(col(ApprovalRequest.created_at)).limit(500)).all()
    votes = votes_of(session=session, ids=[r.id for r in rows])
    now = clock.now()
    out = [to_public(r, votes[r.id], now) for r in rows]
    return [a for a in out if status is None or a.status == status]
