"""Incident endpoints."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from controlplane.deps import CtxDep, Operator, ReadSessionDep, SessionDep, Viewer
from controlplane.incident import service as incidents
from controlplane.incident.models import (
    IncidentCreate,
    IncidentPublic,
    IncidentResolve,
    IncidentsPublic,
)

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])


@router.post("", response_model=IncidentPublic, status_code=201)
def open_incident(
    body: IncidentCreate, session: SessionDep, ctx: CtxDep, principal: Operator
) -> IncidentPublic:
    """Open an incident; a P1/P2 turns incident_active on."""
    out = incidents.open_incident(session=session, ctx=ctx, principal=principal, request=body)
    session.commit()
    ctx.signals.invalidate()
    return out


@router.get("", response_model=IncidentsPublic)
def list_incidents(
    session: ReadSessionDep, _: Viewer, status: Literal["open", "resolved"] | None = None
) -> IncidentsPublic:
    """Incidents, newest first."""
    data = incidents.list_incidents(session=session, status=status)
    return IncidentsPublic(data=data, count=len(data))


@router.post("/{incident_id}/resolve", response_model=IncidentPublic)
def resolve_incident(
    incident_id: str, body: IncidentResolve, session: SessionDep, ctx: CtxDep, principal: Operator
) -> IncidentPublic:
    """Resolve an incident."""
    out = incidents.resolve_incident(
        session=session, ctx=ctx, principal=principal, incident_id=incident_id, request=body
    )
    session.commit()
    ctx.signals.invalidate()
    return out
