"""What `/v1/dora` answers: every key with its raw value, numerator, denominator, window, band
and what was left out of it (DESIGN §8). Plain pydantic; the rows are the deploy and incident
domains' tables."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

Band = Literal["elite", "high", "medium", "low"]
WINDOWS = (7, 30, 90)  # days
REQUESTER_KINDS = ("human", "agent", "ci")  # always shown, even when nobody of a kind asked


class KeyValue(BaseModel):
    """One key over one window: the raw value next to the band, and how it was counted.

    Rates: value = numerator / denominator. Medians: value is the median of `denominator`
    samples (numerator is null). `left_out` counts what could not be measured, by reason."""

    value: float | None = Field(description="null when there was nothing to measure")
    unit: str
    numerator: float | None
    denominator: float | None
    window_days: int
    band: Band | None = Field(description="from the band table; null when it has none")
    band_report: str | None = Field(default=None, description="the report's words for the band")
    left_out: dict[str, int] = Field(default_factory=dict)


class DoraKeys(BaseModel):
    """The five keys (and two views no DORA tool has) for one slice of the deployments."""

    deployment_frequency: KeyValue  # succeeded production deployments per day
    deployment_days_per_week: KeyValue  # days with a deployment, per week (Four Keys' view)
    lead_time: KeyValue  # seconds from commit to production, median over changes
    change_failure_rate: KeyValue  # distinct failed deployments / production deployments
    recovery_time: KeyValue  # seconds from failure (or incident start) to restore, median
    rework_rate: KeyValue  # unplanned fixes (rollbacks, fixes during an incident) / deployments
    model_lead_time: KeyValue  # seconds from the model's training to production, median


class WeekPoint(BaseModel):
    """One calendar week (Monday, UTC) of the window, for trend charts."""

    week_start: date
    days: int = Field(description="days of this week inside the window")
    deployments: int
    deployment_days: int
    lead_time_s: float | None
    changes: int = Field(description="lead-time samples (changes) of the week")
    finished: int
    failed: int
    change_failure_rate: float | None
    recovery_time_s: float | None
    rework: int
    rework_rate: float | None


class LeadTimeSource(BaseModel):
    """Where commit times came from, and what happened when source control could not answer."""

    source: Literal["source_control", "request"]
    adapter: str | None = None
    from_source_control: int = 0  # deployments whose changes came from the compare range
    from_request: int = 0  # deployments measured from the commit time in their request
    unknown: int = 0  # deployments with no known commit time (counted, not in the median)
    note: str = ""


class DoraReport(BaseModel):
    """DORA over one window, overall, by requester kind and by service, with a weekly series."""

    window_days: int
    start: datetime
    end: datetime
    service: str | None
    environment: str = "production"
    bands: str
    bands_report: str
    overall: DoraKeys
    by_requester: dict[str, DoraKeys]
    by_service: dict[str, DoraKeys]
    weekly: list[WeekPoint]
    lead_time_source: LeadTimeSource
