"""Alertmanager's webhook (payload v4) turned into incidents: open or join, then resolve.

A firing P1/P2 alert opens an incident for its service and environment (through the door, as
`incident.open`), or joins the one its source already has open; its fingerprint deduplicates
repeats. Resolved alerts go on the timeline, and an incident the alerts opened resolves when its
last alert resolves: the source lowers only its own reading (DESIGN §3).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from controlplane.audit.recorder import Recorder
from controlplane.clock import Clock
from controlplane.errors import Unavailable
from controlplane.governance.service import Door
from controlplane.identity.models import Principal
from controlplane.incident import service as incidents
from controlplane.incident.models import BLOCKING_SEVERITIES, Incident, IncidentAlert

SOURCE = "alertmanager"
ALERTMANAGER = Principal("alertmanager", SOURCE, "service", frozenset({"operator"}))
ENVIRONMENTS = {"dev": "dev", "development": "dev", "staging": "staging", "stage": "staging",
                "production": "production", "prod": "production"}  # fmt: skip
SEVERITY_WORDS = {"p1": "P1", "p2": "P2", "p3": "P3", "p4": "P4", "critical": "P1",
                  "page": "P1", "high": "P2", "error": "P2", "warning": "P3", "ticket": "P4",
                  "info": "P4"}  # fmt: skip
UNSET_SEVERITY = "P2"  # an alert that does not say how bad it is counts as blocking (fail closed)


class AlertIn(BaseModel):
    """One alert of the payload (fields Alertmanager sends that we do not use are ignored)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(max_length=64)
    annotations: dict[str, str] = Field(default_factory=dict, max_length=64)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    fingerprint: str = Field(pattern=r"^[0-9a-f]{1,64}$")


class AlertmanagerPayload(BaseModel):
    """The webhook body, version 4 (https://prometheus.io/docs/alerting/latest/configuration/)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: str = Field(default="", max_length=256)
    group_key: str = Field(default="", alias="groupKey", max_length=2000)
    alerts: list[AlertIn] = Field(min_length=1, max_length=1000)


class Received(BaseModel):
    """What the plane did with one webhook call."""

    opened: list[str] = []
    joined: list[str] = []
    resolved_alerts: int = 0
    resolved_incidents: list[str] = []
    ignored: int = 0


def severity_of(labels: Mapping[str, str]) -> str:
    """P1-P4 from the alert's `severity` label; unset or unknown counts as blocking."""
    return SEVERITY_WORDS.get(labels.get("severity", "").strip().lower(), UNSET_SEVERITY)


def where(labels: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The alert's service and environment (no environment label: every environment)."""
    env = labels.get("environment") or labels.get("env")
    service = labels.get("service") or None
    return (service[:64] if service else None), (ENVIRONMENTS.get(env.lower()) if env else None)


def receive(
    *, session: Session, door: Door, audit: Recorder, clock: Clock, payload: AlertmanagerPayload
) -> Received:
    """Apply every alert of one webhook call, in one transaction (the caller commits)."""
    done = Received()
    try:
        for alert in payload.alerts:
            if alert.status == "firing":
                _fired(session, door, clock, alert, done)
            else:
                _resolved(session, clock, alert, done)
        session.flush()
    except IntegrityError:  # another call opened the same incident at the same moment
        session.rollback()
        raise Unavailable("a concurrent alert for the same incident; send it again") from None
    audit.record(
        session,
        ALERTMANAGER,
        operation="incident.alert",
        result="success",
        inputs={"group_key": payload.group_key, "status": payload.status,
                "fingerprints": [a.fingerprint for a in payload.alerts][:50]},
        outputs=done.model_dump(),
    )  # fmt: skip
    return done


def _fired(session: Session, door: Door, clock: Clock, alert: AlertIn, done: Received) -> None:
    known = _attached(session, alert.fingerprint)
    if known is not None:
        row, incident = known
        if row.status != "firing":
            row.status, row.ends_at = "firing", None
            session.add(row)
            _event(session, clock, incident, "alert_fired", alert, "fired again")
        return
    severity = severity_of(alert.labels)
    service, environment = where(alert.labels)
    found = _open_of_source(session, service, environment)
    if found is None and severity not in BLOCKING_SEVERITIES:
        done.ignored += 1  # a P3/P4 alert alone is news for dashboards, not an incident
        return
    if found is None:
        incident = _open(session, door, alert, severity, service, environment)
        done.opened.append(incident.id)
    else:
        incident = found
        done.joined.append(incident.id)
        if severity < incident.severity:  # "P1" < "P2": the alert is worse
            incident.severity = severity
            session.add(incident)
    _attach(session, incident, alert, severity)
    _event(session, clock, incident, "alert_fired", alert, "fired")


def _resolved(session: Session, clock: Clock, alert: AlertIn, done: Received) -> None:
    known = _attached(session, alert.fingerprint)
    if known is None:
        done.ignored += 1
        return
    row, incident = known
    if row.status == "resolved":
        return
    row.status, row.ends_at = "resolved", _ended(alert) or clock.now()
    session.add(row)
    session.flush()
    done.resolved_alerts += 1
    _event(session, clock, incident, "alert_resolved", alert, "resolved")
    if incident.source == SOURCE and not _still_firing(session, incident.id):
        incidents.resolve(
            session=session, clock=clock, incident_id=incident.id,
            resolution="all its alerts resolved", resolved_by=SOURCE,
        )  # fmt: skip
        done.resolved_incidents.append(incident.id)


def _open(
    session: Session,
    door: Door,
    alert: AlertIn,
    severity: str,
    service: str | None,
    environment: str | None,
) -> Incident:
    title = alert.annotations.get("summary") or alert.labels.get("alertname") or "alert"
    row = door.submit(
        session=session,
        principal=ALERTMANAGER,
        operation="incident.open",
        payload={"service": service, "environment": environment, "severity": severity,
                 "title": title[:200], "source": SOURCE},
    )  # fmt: skip
    incident = incidents.get(session=session, incident_id=row.outputs["id"])
    incident.open_key = open_key(service, environment)
    session.add(incident)
    session.flush()  # the unique open key: a concurrent twin fails here, not later
    return incident


def open_key(service: str | None, environment: str | None) -> str:
    """At most one open alert-made incident per service and environment."""
    return f"{SOURCE}:{service or '*'}:{environment or '*'}"


def _open_of_source(
    session: Session, service: str | None, environment: str | None
) -> Incident | None:
    return session.exec(
        select(Incident).where(
            Incident.open_key == open_key(service, environment), Incident.status == "open"
        )
    ).first()


def _attached(session: Session, fingerprint: str) -> tuple[IncidentAlert, Incident] | None:
    found = session.exec(
        select(IncidentAlert, Incident)
        .join(Incident, col(Incident.id) == col(IncidentAlert.incident_id))
        .where(IncidentAlert.fingerprint == fingerprint, Incident.status == "open")
    ).first()
    return (found[0], found[1]) if found else None


def _attach(session: Session, incident: Incident, alert: AlertIn, severity: str) -> None:
    session.add(
        IncidentAlert(
            fingerprint=alert.fingerprint,
            incident_id=incident.id,
            alertname=alert.labels.get("alertname", "")[:128],
            status="firing",
            severity=severity,
            starts_at=alert.starts_at,
            labels=dict(alert.labels),
        )
    )


def _still_firing(session: Session, incident_id: str) -> bool:
    return (
        session.exec(
            select(IncidentAlert).where(
                IncidentAlert.incident_id == incident_id, IncidentAlert.status == "firing"
            )
        ).first()
        is not None
    )


def _event(
    session: Session, clock: Clock, incident: Incident, kind: str, alert: AlertIn, verb: str
) -> None:
    name = alert.labels.get("alertname", "alert")
    data: dict[str, Any] = {"fingerprint": alert.fingerprint, "labels": dict(alert.labels)}
    incidents.add_event(
        session=session, clock=clock, incident=incident, kind=kind, actor=SOURCE,
        text=f"{name} {verb}", data=data,
    )  # fmt: skip


def _ended(alert: AlertIn) -> datetime | None:
    """Alertmanager sends 0001-01-01 for 'not ended'."""
    if alert.ends_at is None or alert.ends_at.year < 1970:
        return None
    return alert.ends_at.astimezone(UTC)
