"""Approvals: what waits for humans (oldest first) with the whole explanation; approve/reject.

A vote goes through the same door as the API's (`Door.vote`, which runs the one voter check);
the page only hides buttons its viewer could not use.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session, col, select

from controlplane.approval import service as approvals
from controlplane.approval.models import ApprovalPublic, ApprovalRequest, VoteIn
from controlplane.deploy.models import Deployment
from controlplane.deploy.service import SUBJECT as DEPLOYMENT
from controlplane.deps import ClockDep, DoorDep, ReadSessionDep, SessionDep
from controlplane.errors import Conflict
from controlplane.governance.models import GovernedAction
from controlplane.identity import service as identity
from controlplane.identity.models import Principal
from controlplane.playbook.models import PlaybookStep
from controlplane.playbook.rows import SUBJECT as STEP
from controlplane.ui.auth import CheckedForm, UiUser, field
from controlplane.ui.render import PREFIX, page

router = APIRouter(prefix=f"{PREFIX}/approvals", include_in_schema=False)
RECENT = 20


def may_vote(principal: Principal, approval: ApprovalPublic) -> bool:
    """Show the buttons only to someone the voter check would let through."""
    return (
        approval.status == "pending"
        and principal.kind == "human"
        and principal.has("approver")
        and principal.name != approval.requester
        and all(v.approver != principal.name for v in approval.votes)
    )


def subject_of(session: Session, approval: ApprovalPublic) -> dict[str, Any]:
    """What the request would change and the full decision behind it (base mode, rules...)."""
    if approval.subject_kind == DEPLOYMENT:
        dep = session.get(Deployment, approval.subject_id)
        if dep is not None:
            return {"link": f"{PREFIX}/deployments/{dep.id}", "decision": dep.decision,
                    "inputs": dep.request, "release": dep.release}  # fmt: skip
    elif approval.subject_kind == STEP:
        step = session.get(PlaybookStep, approval.subject_id)
        if step is not None:
            return {"link": f"{PREFIX}/runs/{step.run_id}", "decision": step.decision,
                    "inputs": step.inputs, "release": None}  # fmt: skip
    else:
        action = session.get(GovernedAction, approval.subject_id)
        if action is not None:
            return {"link": None, "decision": action.decision, "inputs": action.request,
                    "release": None}  # fmt: skip
    return {"link": None, "decision": {}, "inputs": {}, "release": None}


def recently_closed(session: Session, now: datetime) -> list[ApprovalPublic]:
    """The latest requests that stopped waiting (approved, rejected, expired, voided)."""
    rows = session.exec(
        select(ApprovalRequest)
        .where(ApprovalRequest.status != "pending")
        .order_by(col(ApprovalRequest.closed_at).desc())
        .limit(RECENT)
    ).all()
    votes = approvals.votes_of(session=session, ids=[r.id for r in rows])
    return [approvals.to_public(r, votes[r.id], now) for r in rows]


@router.get("", response_class=HTMLResponse)
def queue(request: Request, user: UiUser, session: ReadSessionDep, clock: ClockDep) -> HTMLResponse:
    """Pending requests, oldest first, then the latest closed ones (voided ones say why)."""
    pending = approvals.list_requests(session=session, clock=clock, status="pending")
    closed = recently_closed(session, clock.now())
    items = [
        {"a": a, "subject": subject_of(session, a), "may_vote": may_vote(user.principal, a)}
        for a in pending
    ]
    return page(request, "approvals.html", {"items": items, "closed": closed, "now": clock.now()})


@router.get("/{approval_id}", response_class=HTMLResponse)
def detail(
    request: Request, approval_id: str, user: UiUser, session: ReadSessionDep, clock: ClockDep
) -> HTMLResponse:
    """One request: who asked, what changes, why this mode, the gates, the votes."""
    approval = approvals.show(session=session, clock=clock, request_id=approval_id[:64])
    context = {
        "a": approval,
        "subject": subject_of(session, approval),
        "may_vote": may_vote(user.principal, approval),
        "now": clock.now(),
    }
    return page(request, "approval.html", context)


def _vote(
    session: Session,
    door: Any,
    principal: Principal,
    approval_id: str,
    verdict: Literal["approve", "reject"],
    comment: str,
) -> RedirectResponse:
    """The API's vote, step for step: the role, then the door (its voter check), then commit."""
    identity.require(principal, "approver")
    comment = VoteIn(comment=comment).comment  # the API's body model: secrets masked
    result = door.vote(
        session=session, principal=principal, approval_id=approval_id, verdict=verdict,
        comment=comment,
    )  # fmt: skip
    session.commit()
    if result.outcome == "expired":
        raise Conflict(f"approval {approval_id} expired before this vote", {"status": "expired"})
    return RedirectResponse(f"{PREFIX}/approvals/{approval_id}", status_code=303)


@router.post("/{approval_id}/approve")
def approve(
    approval_id: str, user: UiUser, form: CheckedForm, session: SessionDep, door: DoorDep
) -> RedirectResponse:
    """Approve with an optional comment."""
    comment = field(form, "comment")
    return _vote(session, door, user.principal, approval_id[:64], "approve", comment)


@router.post("/{approval_id}/reject")
def reject(
    approval_id: str, user: UiUser, form: CheckedForm, session: SessionDep, door: DoorDep
) -> RedirectResponse:
    """Reject with a comment saying why (required)."""
    comment = field(form, "comment")
    return _vote(session, door, user.principal, approval_id[:64], "reject", comment)
