"""Deployments: filtered list with a chart of outcomes per day, and one deployment's timeline."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from controlplane.approval import service as approvals
from controlplane.audit import service as audit
from controlplane.deploy import service as deployments
from controlplane.deploy.facts import KNOWN_SERVICES
from controlplane.deploy.models import Deployment
from controlplane.deps import ClockDep, ReadSessionDep
from controlplane.ui import filters
from controlplane.ui.auth import UiUser
from controlplane.ui.render import PREFIX, page

router = APIRouter(prefix=f"{PREFIX}/deployments", include_in_schema=False)
LIMIT = 200
CHART_DAYS = 30


def per_day(rows: list[Any], today: Any) -> dict[str, list[Any]]:
    """Deployments per day over the last 30 days, by outcome (the chart and its table)."""
    days = [(today - timedelta(days=n)).date() for n in range(CHART_DAYS - 1, -1, -1)]
    good: Counter[Any] = Counter()
    bad: Counter[Any] = Counter()
    for row in rows:
        day = row.created_at.date()
        if row.status == "succeeded":
            good[day] += 1
        elif row.status in ("failed", "rolled_back"):
            bad[day] += 1
    return {
        "days": [d.isoformat() for d in days],
        "succeeded": [good[d] for d in days],
        "failed": [bad[d] for d in days],
    }


@router.get("", response_class=HTMLResponse)
def listing(request: Request, _: UiUser, session: ReadSessionDep, clock: ClockDep) -> HTMLResponse:
    """Deployments, newest first, filtered by service, environment and status."""
    chosen = filters.deployment_filter(request.query_params, KNOWN_SERVICES)
    rows = deployments.list_deployments(
        session=session, service=chosen.service, environment=chosen.environment,
        status=chosen.status, limit=LIMIT,
    )  # fmt: skip
    context = {
        "rows": deployments.show_many(session=session, deps=rows),
        "chosen": chosen,
        "services": KNOWN_SERVICES,
        "environments": filters.ENVIRONMENTS,
        "statuses": filters.DEPLOYMENT_STATUSES,
        "chart": per_day(rows, clock.now()),
        "now": clock.now(),
    }
    return page(request, "deployments.html", context)


def timeline(session: Session, dep: Deployment) -> list[dict[str, Any]]:
    """What happened to a deployment, in order: asked, decided, votes, rollout, outcome."""
    events: list[dict[str, Any]] = [
        {"at": dep.created_at, "what": f"requested by {dep.requested_by} ({dep.requested_kind})"},
    ]
    if dep.approval_id:
        for vote in approvals.votes_of(session=session, ids=[dep.approval_id])[dep.approval_id]:
            text = f"{vote.verdict} by {vote.approver}" + (
                f": {vote.comment}" if vote.comment else ""
            )
            events.append({"at": vote.created_at, "what": text})
    if dep.started_at:
        events.append(
            {"at": dep.started_at, "what": f"rollout started by {dep.executed_by or 'the plane'}"}
        )
    if dep.step_at and dep.step:
        events.append({"at": dep.step_at, "what": f"step: {dep.step}"})
    if dep.finished_at:
        ending = f"{dep.status}" + (f": {dep.failure_reason}" if dep.failure_reason else "")
        events.append({"at": dep.finished_at, "what": ending})
    if dep.healthy_since:
        events.append({"at": dep.healthy_since, "what": "healthy"})
    return sorted(events, key=lambda e: e["at"])


@router.get("/{deployment_id}", response_class=HTMLResponse)
def detail(
    request: Request, deployment_id: str, _: UiUser, session: ReadSessionDep, clock: ClockDep
) -> HTMLResponse:
    """One deployment: its decision, gates, approval, timeline and audit records."""
    dep = deployments.get(session=session, deployment_id=deployment_id[:64])
    records = (
        audit.list_records(session=session, decision_id=dep.decision_id, limit=100).data
        if dep.decision_id
        else []
    )
    context = {
        "d": deployments.show(session=session, dep=dep),
        "request_body": dep.request,
        "timeline": timeline(session, dep),
        "records": records,
        "now": clock.now(),
    }
    return page(request, "deployment.html", context)
