"""Approval endpoints: the queue, approve, reject."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session

from controlplane.approval import service as approvals
from controlplane.approval.models import ApprovalPublic, ApprovalsPublic, VoteIn
from controlplane.context import AppContext
from controlplane.deploy import executor
from controlplane.deploy import service as deployments
from controlplane.deps import Approver, CtxDep, ReadSessionDep, SessionDep, Viewer
from controlplane.errors import Conflict
from controlplane.identity.models import Principal

router = APIRouter(prefix="/v1/approvals", tags=["approvals"])


@router.get("", response_model=ApprovalsPublic)
def list_approvals(
    session: ReadSessionDep,
    ctx: CtxDep,
    _: Viewer,
    status: Literal["pending", "approved", "rejected", "expired", "voided", "cancelled"]
    | None = None,
) -> ApprovalsPublic:
    """What waits for humans, oldest first, with the explanation and gate results."""
    data = approvals.list_requests(session=session, ctx=ctx, status=status)
    return ApprovalsPublic(data=data, count=len(data))


@router.get("/{approval_id}", response_model=ApprovalPublic)
def get_approval(
    approval_id: str, session: ReadSessionDep, ctx: CtxDep, _: Viewer
) -> ApprovalPublic:
    """One approval request with its votes."""
    req = approvals.get(session=session, request_id=approval_id)
    return approvals.to_public(session=session, req=req, now=ctx.clock.now())


def _vote(
    session: Session,
    ctx: AppContext,
    principal: Principal,
    approval_id: str,
    verdict: Literal["approve", "reject"],
    comment: str,
) -> ApprovalPublic:
    req, outcome = approvals.vote(
        session=session,
        ctx=ctx,
        principal=principal,
        request_id=approval_id,
        verdict=verdict,
        comment=comment,
    )
    if req.subject_kind == "deployment":
        dep = deployments.get(session=session, deployment_id=req.subject_id)
        if outcome != "pending":
            dep.status = outcome  # approved | rejected | expired, the same words on both sides
            session.add(dep)
    session.commit()
    if outcome == "expired":
        raise Conflict(f"approval {approval_id} expired before this vote", {"status": "expired"})
    if outcome == "approved" and req.subject_kind == "deployment":
        executor.execute(ctx=ctx, deployment_id=req.subject_id, actor=principal)
    session.expire_all()
    return approvals.to_public(
        session=session,
        req=approvals.get(session=session, request_id=approval_id),
        now=ctx.clock.now(),
    )


@router.post("/{approval_id}/approve", response_model=ApprovalPublic)
async def approve(
    approval_id: str, body: VoteIn, session: SessionDep, ctx: CtxDep, principal: Approver
) -> ApprovalPublic:
    """Approve (humans with the approver role, not the requester); quorum runs the change."""
    return await run_in_threadpool(
        _vote, session, ctx, principal, approval_id, "approve", body.comment
    )


@router.post("/{approval_id}/reject", response_model=ApprovalPublic)
async def reject(
    approval_id: str, body: VoteIn, session: SessionDep, ctx: CtxDep, principal: Approver
) -> ApprovalPublic:
    """Reject with a reason; the request ends."""
    return await run_in_threadpool(
        _vote, session, ctx, principal, approval_id, "reject", body.comment
    )
