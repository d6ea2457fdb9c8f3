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
    AlertPublic,
    EventPublic,
    Incident,
    IncidentAlert,
    IncidentCreate,
    IncidentDetail,
    IncidentEvent,
    IncidentPublic,
    IncidentUpdate,
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
    add_event(
        session=session, clock=clock, incident=incident, kind="opened", actor=opened_by,
        text=f"{request.severity} opened: {request.title}", data={"source": request.source},
    )  # fmt: skip
    db.mark_changed(session, SIGNALS)
    return incident


def add_event(
    *,
    session: Session,
    clock: Clock,
    incident: Incident,
    kind: str,
    actor: str,
    text: str,
    data: Mapping[str, Any] | None = None,
) -> IncidentEvent:
    """Append one line to the incident's timeline (in the caller's transaction)."""
    event = IncidentEvent(
        incident_id=incident.id, at=clock.now(), kind=kind, actor=actor, text=text[:2000],
        data=dict(data or {}),
    )  # fmt: skip
    session.add(event)
    return event


def detail(*, session: Session, incident_id: str) -> IncidentDetail:
    """One incident with its alerts and its timeline, oldest line first."""
    incident = get(session=session, incident_id=incident_id)
    events = session.exec(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident_id)
        .order_by(col(IncidentEvent.at), col(IncidentEvent.id))
    ).all()
    alerts = session.exec(
        select(IncidentAlert)
        .where(IncidentAlert.incident_id == incident_id)
        .order_by(col(IncidentAlert.starts_at))
    ).all()
    return IncidentDetail(
        **public(incident).model_dump(),
        alerts=[AlertPublic.model_validate(a, from_attributes=True) for a in alerts],
        timeline=[EventPublic.model_validate(e, from_attributes=True) for e in events],
    )


def update(
    *, session: Session, clock: Clock, incident_id: str, change: IncidentUpdate, actor: str
) -> Incident:
    """Link the causing deployment, mark it mitigated, or raise its severity (never lower)."""
    incident = get_open(session=session, incident_id=incident_id)
    if change.severity and change.severity > incident.severity:  # "P3" > "P1": lower
        raise Conflict(
            "a PATCH may only raise an incident's severity (lowering it is a resolution)",
            {"field": "severity", "current": incident.severity, "asked": change.severity},
        )
    if change.severity and change.severity != incident.severity:
        add_event(session=session, clock=clock, incident=incident, kind="severity", actor=actor,
                  text=f"severity {incident.severity} -> {change.severity}")  # fmt: skip
        incident.severity = change.severity
        db.mark_changed(session, SIGNALS)
    if change.deployment_id and change.deployment_id != incident.deployment_id:
        link_deployment(session=session, clock=clock, incident=incident,
                        deployment_id=change.deployment_id, actor=actor)  # fmt: skip
    if change.mitigated and incident.mitigated_at is None:
        incident.mitigated_at = clock.now()
        add_event(session=session, clock=clock, incident=incident, kind="mitigated",
                  actor=actor, text="mitigated")  # fmt: skip
    session.add(incident)
    session.flush()
    return incident


def link_deployment(
    *, session: Session, clock: Clock, incident: Incident, deployment_id: str, actor: str
) -> None:
    """Name the deployment that caused the incident (a rollback, a failed check, a human)."""
    previous = incident.deployment_id
    incident.deployment_id = deployment_id
    session.add(incident)
    add_event(
        session=session, clock=clock, incident=incident, kind="linked", actor=actor,
        text=f"caused by deployment {deployment_id}", data={"previous": previous},
    )  # fmt: skip


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
    incident.open_key = None  # a new alert may open a new incident
    session.add(incident)
    add_event(session=session, clock=clock, incident=incident, kind="resolved", actor=resolved_by,
              text=f"resolved: {resolution}")  # fmt: skip
    session.flush()
    db.mark_changed(session, SIGNALS)
    return incident


def public(incident: Incident) -> IncidentPublic:
    """An incident as the API shows it."""
    return IncidentPublic.model_validate(incident, from_attributes=True)


def list_incidents(
    *,
    session: Session,
    status: str | None = None,
    service: str | None = None,
    environment: str | None = None,
) -> list[IncidentPublic]:
    """Incidents, newest first."""
    query = select(Incident)
    if status:
        query = query.where(Incident.status == status)
    if service:
        query = query.where(Incident.service == service)
    if environment:
        query = query.where(Incident.environment == environment)
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
