"""On-call hand-off: the incident report a responder files when an incident is handed over."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from controlplane.handoff.invariants import SERVICE_PATTERN, Handoff, Invariant
from controlplane.policy.models import Environment

Severity = Literal["P1", "P2", "P3", "P4"]


class TimelineEntry(BaseModel):
    """One thing that happened, and when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: AwareDatetime
    event: str = Field(min_length=1, max_length=2000)


def _resolved_after_detected(r: IncidentReport) -> str | None:
    if r.resolved_at is not None and r.resolved_at < r.detected_at:
        return f"resolved_at {r.resolved_at} is before detected_at {r.detected_at}"
    return None


def _duration_matches_times(r: IncidentReport) -> str | None:
    if r.duration_minutes is None:
        return None
    if r.resolved_at is None:
        return "an unresolved incident has no duration"
    actual = (r.resolved_at - r.detected_at) / timedelta(minutes=1)
    if abs(actual - r.duration_minutes) > 1:
        return f"duration_minutes={r.duration_minutes} but the times say {actual:.1f}"
    return None


def _timeline_ordered(r: IncidentReport) -> str | None:
    times = [e.at for e in r.timeline]
    return None if times == sorted(times) else "timeline entries must be in time order"


class IncidentReport(Handoff):
    """What happened to a service, how bad, when, why, and what follows (seed report payload)."""

    incident_id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,128}$")
    service: str = Field(pattern=SERVICE_PATTERN)
    environment: Environment
    severity: Severity
    summary: str = Field(min_length=1, max_length=2000)
    detected_at: AwareDatetime
    resolved_at: AwareDatetime | None = None
    duration_minutes: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    timeline: tuple[TimelineEntry, ...] = ()
    root_cause: str | None = Field(default=None, max_length=10_000)
    action_items: tuple[str, ...] = ()

    invariants = (
        Invariant("resolved_after_detected", _resolved_after_detected),
        Invariant("duration_matches_times", _duration_matches_times),
        Invariant("timeline_ordered", _timeline_ordered),
    )

    @field_validator("environment", mode="before")
    @classmethod
    def _env(cls, value: object) -> Environment:
        return Environment.parse(value if isinstance(value, Environment) else str(value))
