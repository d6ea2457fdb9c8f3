"""Incident use cases: open and resolve (each a governed action, see kinds.py), list, query."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col, or_, select

from controlplane import db
from controlplane.clock import Clock
from controlplane.errors import Conflict, NotFound
from controlplane.incident.models import (
    BLOCKING_SEVERITIES,
    Incident,
    IncidentCreate,
    IncidentPublic,
)

SIGNALS = "signals"  # the change topic whose caches an incident change invalidates


def create(*, session: Session, clock: Clock, request: IncidentCreate, opened_by: str) -> Incident:
    """Store a new open incident (the caller's transaction records it)."""
    incident = Incident(
        id=uuid.uuid4().hex,
        service=request.service,
        environment=request.environment,
        severity=request.severity,
        title=request.title,
        source=request.source,
        opened_by=opened_by,
        opened_at=clock.now(),
    )
    session.add(incident)
    session.flush()
    db.mark_changed(session, SIGNALS)
    return incident


def get(*, session: Session, incident_id: str) -> Incident:
    """One incident or 404."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} not found")
    return incident


def get_open(*, session: Session, incident_id: str) -> Incident:
    """An incident that is still open (404 unknown, 409 already resolved)."""
    incident = get(session=session, incident_id=incident_id)
    if incident.status != "open":
        raise Conflict(
            f"incident {incident_id} is already {incident.status}", {"status": incident.status}
        )
    return incident


def resolve(
    *, session: Session, clock: Clock, incident_id: str, resolution: str, resolved_by: str
) -> Incident:
    """Close an open incident with what fixed it."""
    incident = get_open(session=session, incident_id=incident_id)
    incident.status = "resolved"
    incident.resolved_by = resolved_by
    incident.resolved_at = clock.now()
    incident.resolution = resolution
    session.add(incident)
    session.flush()
    db.mark_changed(session, SIGNALS)
    return incident


def public(incident: Incident) -> IncidentPublic:
    """An incident as the API shows it."""
    return IncidentPublic.model_validate(incident, from_attributes=True)


def list_incidents(*, session: Session, status: str | None = None) -> list[IncidentPublic]:
    """Incidents, newest first."""
    query = select(Incident)
    if status:
        query = query.where(Incident.status == status)
    rows = session.exec(query.order_by(col(Incident.opened_at).desc()).limit(500)).all()
    return [public(r) for r in rows]


def blocking_open(
    *, session: Session, service: str | None, environment: str | None = None
) -> list[Incident]:
    """Open P1/P2 incidents for this service (or none in particular) and environment.

    `environment` None is the view of every environment at once: all of them count.
    """
    query = select(Incident).where(Incident.status == "open")
    query = query.where(col(Incident.severity).in_(BLOCKING_SEVERITIES))
    if service is not None:
        query = query.where(or_(Incident.service == service, col(Incident.service).is_(None)))
    if environment is not None:
        query = query.where(
            or_(Incident.environment == environment, col(Incident.environment).is_(None))
        )
    return list(session.exec(query).all())


def outputs(incident: Incident) -> Mapping[str, Any]:
    """What an executed incident action reports (and the route answers with)."""
    return public(incident).model_dump(mode="json")
