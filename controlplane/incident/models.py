"""Incidents: the minimal record that drives the incident_active signal."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydField
from sqlalchemy import Column
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


class IncidentsPublic(BaseModel):
    """A list of incidents."""

    data: list[IncidentPublic]
    count: int
