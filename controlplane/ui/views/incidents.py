"""Incidents: the list, and one incident's timeline with the deployment that caused it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from controlplane.deps import ClockDep, ReadSessionDep
from controlplane.incident import service as incidents
from controlplane.ui import filters
from controlplane.ui.auth import UiUser
from controlplane.ui.render import PREFIX, page

router = APIRouter(prefix=f"{PREFIX}/incidents", include_in_schema=False)
STATUSES = ("open", "resolved")


@router.get("", response_class=HTMLResponse)
def listing(request: Request, _: UiUser, session: ReadSessionDep, clock: ClockDep) -> HTMLResponse:
    """Incidents, newest first (optionally open or resolved only)."""
    filters.only_known(request.query_params, ("status",))
    status = filters.choice(request.query_params, "status", STATUSES)
    rows = incidents.list_incidents(session=session, status=status)
    context = {"rows": rows, "status": status, "statuses": STATUSES, "now": clock.now()}
    return page(request, "incidents.html", context)


@router.get("/{incident_id}", response_class=HTMLResponse)
def detail(
    request: Request, incident_id: str, _: UiUser, session: ReadSessionDep, clock: ClockDep
) -> HTMLResponse:
    """One incident: alerts, timeline, linked deployment."""
    found = incidents.detail(session=session, incident_id=incident_id[:64])
    return page(request, "incident.html", {"i": found, "now": clock.now()})
