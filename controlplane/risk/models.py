"""Risk tables (overrides and suppressions, drift reports and baselines) and their API schemas."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic import Field as PydField
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from controlplane.audit.redact import FreeText
from controlplane.policy.models import EnvironmentName
from controlplane.sqltypes import UTCDateTime

SERVICE_PATTERN = r"^[a-z][a-z0-9_-]*$"


class SignalOverride(SQLModel, table=True):
    """A raise (`active`) by an operator, or a suppression (`inactive`) some humans approved."""

    __tablename__ = "signal_override"

    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=64, index=True)
    state: str = Field(max_length=16)
    service: str | None = Field(default=None, max_length=64)
    environment: str | None = Field(default=None, max_length=32)  # None: every environment
    reason: str = Field(max_length=500)
    set_by: str = Field(max_length=128)
    approved_by: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    action_id: str | None = Field(default=None, max_length=32)  # the governed action behind it
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    cleared_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class DriftReportRecord(SQLModel, table=True):
    """A received drift report; each reporter's newest one per service speaks for it."""

    __tablename__ = "drift_report"

    id: str = Field(primary_key=True, max_length=32)
    service: str = Field(max_length=64, index=True)
    reported_by: str = Field(default="unknown", max_length=128)
    received_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    severe: bool
    max_ratio: float
    report: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class DriftBaseline(SQLModel, table=True):
    """A governed `drift.baseline.update`: drift reports before `reset_at` no longer count."""

    __tablename__ = "drift_baseline"

    id: str = Field(primary_key=True, max_length=32)
    service: str = Field(max_length=64, index=True)
    reset_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    reset_by: str = Field(max_length=128)
    reason: str = Field(max_length=500)
    action_id: str = Field(max_length=32)


TTL_PATTERN = r"^([0-9]+\.?[0-9]*|\.[0-9]+)[smhd]$"  # the schema's pattern and the parser's
_TTL = re.compile(TTL_PATTERN)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> timedelta:
    """Parse `30m`, `2h`, `45s`, `1d` into a positive timedelta (at most 7 days)."""
    if not _TTL.match(text):
        raise ValueError(f"ttl {text!r} must look like 45s, 30m, 2h or 1d")
    seconds = float(text[:-1]) * _UNITS[text[-1]]
    if not 0 < seconds <= 7 * 86400:
        raise ValueError(f"ttl {text!r} must be more than 0 and at most 7 days")
    return timedelta(seconds=seconds)


class SignalSet(BaseModel):
    """Set a manual override: `active` raises (an operator's call), `inactive` asks to suppress."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["active", "inactive"] = "active"
    ttl: str = PydField(  # the pattern is parse_ttl's own, which says what is wrong in words
        description="how long it holds: 45s, 30m, 2h, 1d (more than 0, max 7d)",
        json_schema_extra={"pattern": TTL_PATTERN},
    )
    reason: FreeText = PydField(min_length=3, max_length=500)
    service: str | None = PydField(default=None, max_length=64, pattern=SERVICE_PATTERN)
    environment: EnvironmentName | None = PydField(
        default=None, description="dev, staging or production; unset: every environment"
    )

    @field_validator("ttl")
    @classmethod
    def _ttl(cls, value: str) -> str:
        parse_ttl(value)
        return value


class SignalPublic(BaseModel):
    """A signal reading as the API shows it."""

    name: str
    state: str
    source: str
    observed_at: datetime | None
    evidence: dict[str, Any]


class SignalsPublic(BaseModel):
    """Every signal for one scope."""

    service: str | None
    data: list[SignalPublic]


class DriftReportAccepted(BaseModel):
    """What the plane made of a drift report."""

    id: str
    service: str
    reported_by: str
    severe: bool
    severe_features: list[str]
    max_ratio: float
    audit_seq: int | None = None


class BaselineReset(BaseModel):
    """Ask that drift reports before now stop counting for a service (governed, CONSULT)."""

    model_config = ConfigDict(extra="forbid")

    service: str = PydField(max_length=64, pattern=SERVICE_PATTERN)
    reason: FreeText = PydField(min_length=3, max_length=500)


class OverrideOut(BaseModel):
    """An override as stored."""

    id: str
    name: str
    state: str
    service: str | None
    environment: str | None
    reason: str
    set_by: str
    approved_by: list[str]
    expires_at: str
    audit_seq: int | None = None


class OverrideCleared(BaseModel):
    """Which overrides were cleared."""

    cleared: list[str]
    audit_seq: int | None = None
