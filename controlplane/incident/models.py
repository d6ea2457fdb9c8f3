"""Incidents: the record behind incident_active, its alerts and its timeline (DESIGN §3, §8)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictBool
from pydantic import Field as PydField
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from controlplane.audit.redact import FreeText
from controlplane.policy.models import EnvironmentName
from controlplane.sqltypes import UTCDateTime

Severity = Literal["P1", "P2", "P3", "P4"]
BLOCKING_SEVERITIES = ("P1", "P2")


class Incident(SQLModel, table=True):
    """An incident; open P1/P2 ones make risky changes need a human."""

    __tablename__ = "incident"

    id: str = Field(primary_key=True, max_length=32)
    service: str | None = Field(default=None, max_length=64, index=True)
    environment: str | None = Field(default=None, max_length=32)  # None: every environment
    severity: str = Field(max_length=2)
    title: str = Field(max_length=200)
    status: str = Field(default="open", max_length=16, index=True)
    source: str = Field(default="manual", max_length=32)
    opened_by: str = Field(max_length=128)
    opened_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    resolved_by: str | None = Field(default=None, max_length=128)
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    resolution: str | None = Field(default=None, max_length=2000)
    mitigated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # the deployment that caused it (DORA's change failure rate and recovery time read this)
    deployment_id: str | None = Field(default=None, max_length=32, index=True)
    # set while an alert-made incident is open: one per service and environment (unique)
    open_key: str | None = Field(default=None, max_length=200, unique=True)


EventKind = Literal[
    "opened", "alert_fired", "alert_resolved", "playbook_step", "note", "linked", "mitigated",
    "severity", "resolved",
]  # fmt: skip


class IncidentEvent(SQLModel, table=True):
    """One line of an incident's timeline."""

    __tablename__ = "incident_event"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(max_length=32, index=True)
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    kind: str = Field(max_length=16)
    actor: str = Field(max_length=128)
    text: str = Field(max_length=2000)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class IncidentAlert(SQLModel, table=True):
    """An Alertmanager alert attached to an incident, deduplicated by its fingerprint."""

    __tablename__ = "incident_alert"

    fingerprint: str = Field(primary_key=True, max_length=64)
    incident_id: str = Field(primary_key=True, max_length=32)
    alertname: str = Field(max_length=128)
    status: str = Field(max_length=16)  # firing | resolved
    severity: str = Field(max_length=2)
    starts_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    ends_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    labels: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class IncidentCreate(BaseModel):
    """Open an incident."""

    model_config = ConfigDict(extra="forbid")

    service: str | None = PydField(default=None, max_length=64, pattern=r"^[a-z][a-z0-9_-]*$")
    environment: EnvironmentName | None = PydField(
        default=None, description="dev, staging or production; unset: every environment"
    )
    severity: Severity
    title: FreeText = PydField(min_length=1, max_length=200)
    source: str = PydField(default="manual", max_length=32, pattern=r"^[a-z][a-z0-9_.-]*$")


class IncidentResolve(BaseModel):
    """Close an incident with what fixed it."""

    model_config = ConfigDict(extra="forbid")

    resolution: FreeText = PydField(min_length=1, max_length=2000)


class IncidentPublic(BaseModel):
    """An incident as the API shows it."""

    id: str
    service: str | None
    environment: str | None
    severity: str
    title: str
    status: str
    source: str
    opened_by: str
    opened_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None
    resolution: str | None
    mitigated_at: datetime | None = None
    deployment_id: str | None = None


class EventPublic(BaseModel):
    """A timeline line as the API shows it."""

    at: datetime
    kind: str
    actor: str
    text: str
    data: dict[str, Any]


class AlertPublic(BaseModel):
    """An alert of an incident as the API shows it."""

    fingerprint: str
    alertname: str
    status: str
    severity: str
    starts_at: datetime
    ends_at: datetime | None
    labels: dict[str, Any]


class IncidentDetail(IncidentPublic):
    """One incident with its alerts and its timeline, oldest line first."""

    alerts: list[AlertPublic]
    timeline: list[EventPublic]


class IncidentNote(BaseModel):
    """A line for the timeline."""

    model_config = ConfigDict(extra="forbid")

    text: FreeText = PydField(min_length=1, max_length=2000)


class IncidentUpdate(BaseModel):
    """What PATCH may change: the causing deployment, mitigation, a higher severity.

    A lower severity would lower incident_active: that is a resolution's job, not a PATCH's.
    """

    model_config = ConfigDict(extra="forbid")

    deployment_id: str | None = PydField(default=None, min_length=1, max_length=32)
    mitigated: StrictBool | None = None
    severity: Severity | None = None


class IncidentsPublic(BaseModel):
    """A list of incidents."""

    data: list[IncidentPublic]
    count: int
