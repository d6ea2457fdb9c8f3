"""Risk tables (manual overrides, drift reports) and their API schemas."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from pydantic import Field as PydField
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from controlplane.sqltypes import UTCDateTime

SERVICE_PATTERN = r"^[a-z][a-z0-9_-]*$"


class SignalOverride(SQLModel, table=True):
    """A human's temporary statement about a signal, with a reason and an expiry."""

    __tablename__ = "signal_override"

    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=64, index=True)
    state: str = Field(max_length=16)
    service: str | None = Field(default=None, max_length=64)
    reason: str = Field(max_length=500)
    set_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    cleared_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class DriftReportRecord(SQLModel, table=True):
    """A received drift report; the newest per service drives drift_severe."""

    __tablename__ = "drift_report"

    id: str = Field(primary_key=True, max_length=32)
    service: str = Field(max_length=64, index=True)
    received_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    severe: bool
    max_ratio: float
    report: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


def parse_ttl(text: str) -> timedelta:
    """Parse `30m`, `2h`, `45s`, `1d` into a positive timedelta (at most 7 days)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    raw = text.strip().lower()
    if len(raw) < 2 or raw[-1] not in units or not raw[:-1].replace(".", "", 1).isdigit():
        raise ValueError(f"ttl {text!r} must look like 45s, 30m, 2h or 1d")
    seconds = float(raw[:-1]) * units[raw[-1]]
    if not 0 < seconds <= 7 * 86400:
        raise ValueError(f"ttl {text!r} must be more than 0 and at most 7 days")
    return timedelta(seconds=seconds)


class SignalSet(BaseModel):
    """Set a manual override on a signal."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["active", "inactive"] = "active"
    ttl: str = PydField(description="how long it holds: 45s, 30m, 2h, 1d (max 7d)")
    reason: str = PydField(min_length=3, max_length=500)
    service: str | None = PydField(default=None, max_length=64, pattern=SERVICE_PATTERN)

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


class DriftFeature(BaseModel):
    """One feature's drift score against its alert threshold."""

    model_config = ConfigDict(extra="allow")

    name: str = PydField(min_length=1, max_length=128)
    psi: float = PydField(ge=0)
    threshold: float = PydField(gt=0)
    ks: float | None = PydField(default=None, ge=0, le=1)


class DriftReport(BaseModel):
    """A drift report from a service's drift job (the plane recomputes `severe`)."""

    model_config = ConfigDict(extra="allow")

    service: str = PydField(max_length=64, pattern=SERVICE_PATTERN)
    window_start: datetime
    window_end: datetime
    features: list[DriftFeature] = PydField(min_length=1, max_length=10_000)
    retrain_recommendation: Literal["none", "soft", "hard"] = "none"

    @model_validator(mode="after")
    def _window(self) -> DriftReport:
        if self.window_end < self.window_start:
            raise ValueError("window_end is before window_start")
        return self

    def severe_features(self) -> list[str]:
        """Features whose PSI exceeds twice their alert threshold."""
        return [f.name for f in self.features if f.psi > 2 * f.threshold]


class DriftReportAccepted(BaseModel):
    """What the plane made of a drift report."""

    id: str
    service: str
    severe: bool
    severe_features: list[str]
    max_ratio: float
