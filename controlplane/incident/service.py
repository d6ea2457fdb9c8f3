"""Incident use cases; each change is audited in the same transaction."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlmodel import Session, col, or_, select

from controlplane.errors import Conflict, NotFound
from controlplane.identity.models import Principal
from controlplane.incident.models import (
    BLOCKING_SEVERITIES,
    Incident,
    IncidentCreate,
    IncidentPublic,
    IncidentResolve,
)

if TYPE_CHECKING:
    from controlplane.context import AppContext


def open_incident(
    *, session: Session, ctx: AppContext, principal: Principal, request: IncidentCreate
) -> IncidentPublic:
    """Open an incident and record it."""
    incident = Incident(
        id=uuid.uuid4().hex,
        service=request.service,
        severity=request.severity,
        title=request.title,
        source=request.source,
        opened_by=principal.name,
        opened_at=ctx.clock.now(),
    )
    session.add(incident)
    session.flush()
    ctx.audit(
        session,
        principal,
        operation="incident.open",
        result="success",
        service=request.service,
        inputs=request.model_dump(),
        outputs={"incident_id": incident.id},
    )
    return IncidentPublic.model_validate(incident, from_attributes=True)


def resolve_incident(
    *,
    session: Session,
    ctx: AppContext,
    principal: Principal,
    incident_id: str,
    request: IncidentResolve,
) -> IncidentPublic:
    """Resolve an open incident and record it."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} not found")
    if incident.status != "open":
        raise Conflict(f"incident {incident_id} is already {incident.status}")
    incident.status = "resolved"
    incident.resolved_by = principal.name
    incident.resolved_at = ctx.clock.now()
    incident.resolution = request.resolution
    session.add(incident)
    session.flush()
    ctx.audit(
        session,
        principal,
        operation="incident.resolve",
        result="success",
        service=incident.service,
        inputs={"incident_id": incident_id, "resolution": request.resolution},
    )
    return IncidentPublic.model_validate(incident, from_attributes=True)


def list_incidents(*, session: Session, status: str | None = None) -> list[IncidentPublic]:
    """Incidents, newest first."""
    query = select(Incident)
    if status:
        query = query.where(Incident.status == status)
    rows = session.exec(query.order_by(col(Incident.opened_at).desc()).limit(500)).all()
    return [IncidentPublic.model_validate(r, from_attributes=True) for r in rows]


def blocking_open(*, session: Session, service: str | None) -> list[Incident]:
    """Open P1/P2 incidents for this service or for no particular service."""
    query = select(Incident).where(Incident.status == "open")
    query = query.where(col(Incident.severity).in_(BLOCKING_SEVERITIES))
    if service is not None:
        query = query.where(or_(Incident.service == service, col(Incident.service).is_(None)))
    return list(session.exec(query).all())
