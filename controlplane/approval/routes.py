"""Approval endpoints: the queue, approve, reject (every vote goes through the door)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlmodel import Session

from controlplane.approval import service as approvals
from controlplane.approval.models import ApprovalPublic, ApprovalsPublic, ApprovalStatus, VoteIn
from controlplane.deps import Approver, ClockDep, DoorDep, ReadSessionDep, SessionDep, Viewer
from controlplane.errors import Conflict
from controlplane.governance.service import Door
from controlplane.identity.models import Principal

router = APIRouter(prefix="/v1/approvals", tags=["approvals"])


@router.get("", response_model=ApprovalsPublic)
def list_approvals(
    session: ReadSessionDep, clock: ClockDep, _: Viewer, status: ApprovalStatus | None = None
) -> ApprovalsPublic:
    """What waits for humans, oldest first, with the explanation and gate results."""
    data = approvals.list_requests(
        session=session, clock=clock, status=status.value if status else None
    )
    return ApprovalsPublic(data=data, count=len(data))


@router.get("/{approval_id}", response_model=ApprovalPublic)
def get_approval(
    approval_id: str, session: ReadSessionDep, clock: ClockDep, _: Viewer
) -> ApprovalPublic:
    """One approval request with its votes."""
    return approvals.show(session=session, clock=clock, request_id=approval_id)


def _vote(
    session: Session,
    door: Door,
    principal: Principal,
    approval_id: str,
    verdict: Literal["approve", "reject"],
    comment: str,
) -> JSONResponse:
    result = door.vote(
        session=session,
        principal=principal,
        approval_id=approval_id,
        verdict=verdict,
        comment=comment,
    )
    session.commit()
    if result.outcome == "expired":
        raise Conflict(f"approval {approval_id} expired before this vote", {"status": "expired"})
    session.expire_all()
    out = approvals.show(session=session, clock=door.clock, request_id=approval_id)
    return JSONResponse(out.model_dump(mode="json"), status_code=202 if result.runs_later else 200)


@router.post(
    "/{approval_id}/approve",
    response_model=ApprovalPublic,
    responses={202: {"model": ApprovalPublic, "description": "quorum reached; the change runs"}},
)
async def approve(
    approval_id: str, body: VoteIn, session: SessionDep, door: DoorDep, principal: Approver
) -> JSONResponse:
    """Approve (humans with the approver role, not the requester); quorum runs the change: now
    for a change of the plane (200), or off the request for a deployment (202: follow it)."""
    return await run_in_threadpool(
        _vote, session, door, principal, approval_id, "approve", body.comment
    )


@router.post("/{approval_id}/reject", response_model=ApprovalPublic)
async def reject(
    approval_id: str, body: VoteIn, session: SessionDep, door: DoorDep, principal: Approver
) -> JSONResponse:
    """Reject with a reason; the request ends."""
    return await run_in_threadpool(
        _vote, session, door, principal, approval_id, "reject", body.comment
    )
