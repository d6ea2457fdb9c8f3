"""Incident endpoints; opening and resolving go through the door as governed actions."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter

from controlplane.deps import DoorDep, Operator, ReadSessionDep, SessionDep, Viewer
from controlplane.governance.models import GovernedAction
from controlplane.incident import service as incidents
from controlplane.incident.models import (
    IncidentCreate,
    IncidentPublic,
    IncidentResolve,
    IncidentsPublic,
)
from controlplane.responses import WAITS, govern

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])


def _incident_out(row: GovernedAction) -> IncidentPublic:
    return IncidentPublic(**row.outputs)


@router.post("", response_model=IncidentPublic, status_code=201, responses=WAITS)
def open_incident(
    body: IncidentCreate, session: SessionDep, door: DoorDep, principal: Operator
) -> Any:
    """Open an incident; a P1/P2 turns incident_active on (incident.open is never blocked)."""
    return govern(door, session, principal, "incident.open", body.model_dump(), _incident_out)


@router.get("", response_model=IncidentsPublic)
def list_incidents(
    session: ReadSessionDep, _: Viewer, status: Literal["open", "resolved"] | None = None
) -> IncidentsPublic:
    """Incidents, newest first."""
    data = incidents.list_incidents(session=session, status=status)
    return IncidentsPublic(data=data, count=len(data))


@router.post("/{incident_id}/resolve", response_model=IncidentPublic, responses=WAITS)
def resolve_incident(
    incident_id: str,
    body: IncidentResolve,
    session: SessionDep,
    door: DoorDep,
    principal: Operator,
) -> Any:
    """Resolve an incident (`incident.resolve`: CONSULT in production, and whenever an agent or
    CI would resolve a P1/P2): 202 while it waits for a human."""
    incident = incidents.get_open(session=session, incident_id=incident_id)
    payload = {
        "incident_id": incident.id,
        "resolution": body.resolution,
        "service": incident.service,
        "environment": incident.environment,
        "severity": incident.severity,
        "title": incident.title,
        "opened_by": incident.opened_by,
    }
    return govern(door, session, principal, "incident.resolve", payload, _incident_out)
