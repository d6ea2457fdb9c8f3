"""Incident endpoints; opening and resolving go through the door as governed actions."""

from __future__ import annotations

import hmac
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path

from controlplane.deps import (
    ClockDep,
    DoorDep,
    Operator,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    Viewer,
)
from controlplane.errors import Unauthenticated
from controlplane.governance.models import GovernedAction
from controlplane.incident import alerts
from controlplane.incident import service as incidents
from controlplane.incident.models import (
    IncidentCreate,
    IncidentDetail,
    IncidentNote,
    IncidentPublic,
    IncidentResolve,
    IncidentsPublic,
    IncidentUpdate,
)
from controlplane.responses import WAITS, govern

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])
webhooks = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
IncidentId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="incident id")]


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
    session: ReadSessionDep,
    _: Viewer,
    status: Literal["open", "resolved"] | None = None,
    service: str | None = None,
    environment: Literal["dev", "staging", "production"] | None = None,
) -> IncidentsPublic:
    """Incidents, newest first."""
    data = incidents.list_incidents(
        session=session, status=status, service=service, environment=environment
    )
    return IncidentsPublic(data=data, count=len(data))


@router.get("/{incident_id}", response_model=IncidentDetail)
def show_incident(incident_id: IncidentId, session: ReadSessionDep, _: Viewer) -> IncidentDetail:
    """One incident with its alerts and timeline (alert fired/resolved, steps, notes)."""
    return incidents.detail(session=session, incident_id=incident_id)


@router.patch("/{incident_id}", response_model=IncidentDetail)
def update_incident(
    incident_id: IncidentId,
    body: IncidentUpdate,
    session: SessionDep,
    clock: ClockDep,
    door: DoorDep,
    principal: Operator,
) -> IncidentDetail:
    """Link the causing deployment, mark it mitigated, or raise its severity (never lower)."""
    row = incidents.update(
        session=session, clock=clock, incident_id=incident_id, change=body, actor=principal.name
    )
    door.audit.record(
        session, principal, operation="incident.update", result="success",
        environment=row.environment, service=row.service,
        inputs={"incident_id": incident_id, **body.model_dump(exclude_none=True)},
        outputs={"severity": row.severity, "deployment_id": row.deployment_id},
    )  # fmt: skip
    session.commit()
    return incidents.detail(session=session, incident_id=incident_id)


@router.post("/{incident_id}/notes", response_model=IncidentDetail, status_code=201)
def add_note(
    incident_id: IncidentId,
    body: IncidentNote,
    session: SessionDep,
    clock: ClockDep,
    door: DoorDep,
    principal: Operator,
) -> IncidentDetail:
    """Add a line to the incident's timeline."""
    row = incidents.get(session=session, incident_id=incident_id)
    incidents.add_event(
        session=session, clock=clock, incident=row, kind="note", actor=principal.name,
        text=body.text,
    )  # fmt: skip
    door.audit.record(
        session, principal, operation="incident.note", result="success",
        environment=row.environment, service=row.service,
        inputs={"incident_id": incident_id, "text": body.text}, outputs={},
    )  # fmt: skip
    session.commit()
    return incidents.detail(session=session, incident_id=incident_id)


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


def _receiver(settings: SettingsDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """The receiver's token is checked before the body is read (a stranger learns nothing)."""
    expected = settings.alertmanager_token
    if expected is None:
        raise Unauthenticated("no Alertmanager receiver here (CONTROLPLANE_ALERTMANAGER_TOKEN)")
    scheme, _, given = (authorization or "").partition(" ")
    secret = expected.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), secret):
        raise Unauthenticated("wrong or missing receiver token (Authorization: Bearer ...)")


Receiver = Annotated[None, Depends(_receiver)]


@webhooks.post(
    "/alertmanager",
    response_model=alerts.Received,
    responses={401: {"description": "no or wrong receiver token, or no receiver configured"}},
)
def alertmanager_webhook(
    _: Receiver,
    body: alerts.AlertmanagerPayload,
    session: SessionDep,
    clock: ClockDep,
    door: DoorDep,
) -> alerts.Received:
    """Alertmanager's webhook (v4): firing P1/P2 alerts open or join incidents, resolved ones
    close what they opened. Authenticated by the receiver's bearer token."""
    done = alerts.receive(session=session, door=door, audit=door.audit, clock=clock, payload=body)
    session.commit()
    return done
