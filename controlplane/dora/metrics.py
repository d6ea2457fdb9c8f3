"""The maths of the DORA keys over rows handed in: medians, rates, bands, splits, weeks. No I/O.

The service hands over per-day counts (the database grouped them) and one sample per change,
failure or model release of the window; everything here is a pure function of those, so the
hand-computed cases in tests/dora/test_metrics.py pin the definitions of DESIGN §8.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple

from controlplane.dora.models import DoraKeys, KeyValue, WeekPoint

DAY_S = 86400.0
EPOCH = date(1970, 1, 1)


# -- band tables -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """One band of one key: its limit (at_least/at_most) or centre (nearest), and its words."""

    band: str
    limit: float | None = None
    value: float | None = None
    report: str = ""


@dataclass(frozen=True)
class KeyBands:
    """How one key is banded: `at_least`, `at_most` or `nearest`, best band first."""

    method: str
    levels: tuple[Level, ...]


@dataclass(frozen=True)
class BandTable:
    """One report's bands (bands/<version>.yaml)."""

    version: str
    report: str
    keys: Mapping[str, KeyBands]


def band_of(table: BandTable, key: str, value: float | None) -> Level | None:
    """The band a raw value falls in; None for no value or a key the report gives no bands."""
    bands = table.keys.get(key)
    if value is None or bands is None or not bands.levels:
        return None
    levels = bands.levels
    if bands.method == "nearest":
        return min(levels, key=lambda lv: abs(value - (lv.value or 0.0)))  # first wins ties
    for level in levels[:-1]:
        limit = level.limit
        if limit is None:
            continue
        if (bands.method == "at_least" and value >= limit) or (
            bands.method == "at_most" and value <= limit
        ):
            return level
    return levels[-1]


# -- rows ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayCounts:
    """Production deployments of one service, requester kind and UTC day (days since 1970)."""

    service: str
    requester: str
    day: int
    deployments: int = 0  # kind deploy, succeeded (what deployment frequency counts)
    finished: int = 0  # kind deploy, succeeded, failed or rolled back (CFR's denominator)
    failed: int = 0  # of `finished`: failed, rolled back or linked to an incident, each once
    rollbacks: int = 0  # kind rollback, succeeded: restores, not deployments


class Sample(NamedTuple):
    """One measured thing (a change's lead time, a failure's recovery...); None: unknown."""

    service: str
    requester: str
    day: int
    seconds: float | None


@dataclass(frozen=True)
class Rows:
    """Everything the keys are computed from, for one window."""

    days: Sequence[DayCounts] = ()
    lead: Sequence[Sample] = ()  # one per change; None: a deployment with no commit time
    recovery: Sequence[Sample] = ()  # one per failed deployment; None: not restored yet
    fixes: Sequence[Sample] = ()  # one per unplanned fix deployment (seconds unused)
    model: Sequence[Sample] = ()  # one per deployment; None: no known training time
    model_known: bool = True  # False: no training times at all, every deployment is unknown


def day_of(epoch_s: float) -> int:
    """The UTC day number of a timestamp."""
    return int(epoch_s // DAY_S)


def week_of(day: int) -> int:
    """The day number of the Monday starting that day's week (1970-01-01 was a Thursday)."""
    return day - (day + 3) % 7


def median(values: Sequence[float]) -> float | None:
    """The median, or None for no values."""
    return float(statistics.median(values)) if values else None


def rate(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, None when there is nothing to divide by."""
    return numerator / denominator if denominator else None


# -- aggregation ---------------------------------------------------------------------------------


@dataclass
class Bucket:
    """Counts and samples of one (service, requester, week), merged into views."""

    deployments: int = 0
    finished: int = 0
    failed: int = 0
    rollbacks: int = 0
    fixes: int = 0
    days: set[int] = field(default_factory=set)
    lead: list[float] = field(default_factory=list)
    lead_unknown: int = 0
    recovery: list[float] = field(default_factory=list)
    recovery_unknown: int = 0
    model: list[float] = field(default_factory=list)
    model_unknown: int = 0

    def add(self, other: Bucket) -> None:
        """Fold another bucket in."""
        for name in ("deployments", "finished", "failed", "rollbacks", "fixes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("lead_unknown", "recovery_unknown", "model_unknown"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.days |= other.days
        self.lead += other.lead
        self.recovery += other.recovery
        self.model += other.model


Key = tuple[str, str, int]  # service, requester, week start day


def bucketed(rows: Rows) -> dict[Key, Bucket]:
    """One pass over the rows into (service, requester, week) buckets."""
    out: dict[Key, Bucket] = {}

    def at(service: str, requester: str, day: int) -> Bucket:
        key = (service, requester, week_of(day))
        bucket = out.get(key)
        if bucket is None:
            bucket = out[key] = Bucket()
        return bucket

    for d in rows.days:
        b = at(d.service, d.requester, d.day)
        b.deployments += d.deployments
        b.finished += d.finished
        b.failed += d.failed
        b.rollbacks += d.rollbacks
        if d.deployments:
            b.days.add(d.day)
        if not rows.model_known:
            b.model_unknown += d.deployments
    for s in rows.fixes:
        at(s.service, s.requester, s.day).fixes += 1
    for samples, values, unknown in (
        (rows.lead, "lead", "lead_unknown"),
        (rows.recovery, "recovery", "recovery_unknown"),
        (rows.model, "model", "model_unknown"),
    ):
        for s in samples:
            b = at(s.service, s.requester, s.day)
            if s.seconds is None:
                setattr(b, unknown, getattr(b, unknown) + 1)
            else:
                getattr(b, values).append(s.seconds)
    return out


def merged(buckets: Mapping[Key, Bucket], keep: Callable[[Key], bool]) -> Bucket:
    """One view: the buckets `keep` selects, folded together."""
    total = Bucket()
    for key, bucket in buckets.items():
        if keep(key):
            total.add(bucket)
    return total


def keys_of(
    b: Bucket, *, window_days: int, table: BandTable, calendar_days: int | None = None
) -> DoraKeys:
    """The keys of one view (`calendar_days`: UTC days the window touches, for day counts)."""

    def value(key: str, v: float | None, unit: str, num: float | None, den: float | None,
              left_out: dict[str, int] | None = None) -> KeyValue:  # fmt: skip
        level = band_of(table, key, v)
        return KeyValue(
            value=v, unit=unit, numerator=num, denominator=den, window_days=window_days,
            band=level.band if level else None,
            band_report=level.report if level else None, left_out=left_out or {},
        )  # fmt: skip

    weeks = (calendar_days or window_days) / 7  # a 7-day window touches 8 calendar days
    reworked = b.rollbacks + b.fixes
    shipped = b.deployments + b.rollbacks
    return DoraKeys(
        deployment_frequency=value(
            "deployment_frequency", rate(b.deployments, window_days), "deployments/day",
            b.deployments, window_days, {"rollbacks_not_counted": b.rollbacks},
        ),
        deployment_days_per_week=value(
            "deployment_days_per_week", rate(len(b.days), weeks), "days/week", len(b.days), weeks
        ),
        lead_time=value(
            "lead_time", median(b.lead), "seconds", None, len(b.lead),
            {"no_commit_time": b.lead_unknown},
        ),
        change_failure_rate=value(
            "change_failure_rate", rate(b.failed, b.finished), "ratio", b.failed, b.finished
        ),
        recovery_time=value(
            "recovery_time", median(b.recovery), "seconds", None, len(b.recovery),
            {"not_restored": b.recovery_unknown},
        ),
        rework_rate=value("rework_rate", rate(reworked, shipped), "ratio", reworked, shipped),
        model_lead_time=value(
            "model_lead_time", median(b.model), "seconds", None, len(b.model),
            {"no_training_time": b.model_unknown},
        ),
    )  # fmt: skip


def weekly(buckets: Mapping[Key, Bucket], first_day: int, last_day: int) -> list[WeekPoint]:
    """Every calendar week touching [first_day, last_day], oldest first, zeros included."""
    points: list[WeekPoint] = []
    week = week_of(first_day)
    while week <= last_day:
        b = merged(buckets, lambda k, w=week: k[2] == w)  # type: ignore[misc]
        inside = min(week + 6, last_day) - max(week, first_day) + 1
        points.append(
            WeekPoint(
                week_start=EPOCH + timedelta(days=week),
                days=inside,
                deployments=b.deployments,
                deployment_days=len(b.days),
                lead_time_s=median(b.lead),
                changes=len(b.lead),
                finished=b.finished,
                failed=b.failed,
                change_failure_rate=rate(b.failed, b.finished),
                recovery_time_s=median(b.recovery),
                rework=b.rollbacks + b.fixes,
                rework_rate=rate(b.rollbacks + b.fixes, b.deployments + b.rollbacks),
            )
        )
        week += 7
    return points


@dataclass(frozen=True)
class Views:
    """The keys overall, by requester kind, by service, and the weekly series."""

    overall: DoraKeys
    by_requester: dict[str, DoraKeys]
    by_service: dict[str, DoraKeys]
    weekly: list[WeekPoint]


def views(
    rows: Rows,
    *,
    window_days: int,
    first_day: int,
    last_day: int,
    table: BandTable,
    services: Sequence[str],
    requesters: Sequence[str],
) -> Views:
    """All the slices of one window (services and requesters listed even with no rows)."""
    buckets = bucketed(rows)
    seen_services = sorted({*services, *(k[0] for k in buckets)})
    seen_requesters = [*requesters, *sorted({k[1] for k in buckets} - set(requesters))]

    def keys(keep: Callable[[Key], bool]) -> DoraKeys:
        return keys_of(
            merged(buckets, keep), window_days=window_days, table=table,
            calendar_days=last_day - first_day + 1,
        )  # fmt: skip

    return Views(
        overall=keys(lambda _: True),
        by_requester={r: keys(lambda k, r=r: k[1] == r) for r in seen_requesters},  # type: ignore[misc]
        by_service={s: keys(lambda k, s=s: k[0] == s) for s in seen_services},  # type: ignore[misc]
        weekly=weekly(buckets, first_day, last_day),
    )
