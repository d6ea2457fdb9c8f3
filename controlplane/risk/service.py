"""Live risk signals: read each from its source, cache it, let humans override it (audited)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, or_, select

from controlplane.adapters.base import MetricsSource
from controlplane.audit import service as audit
from controlplane.clock import Clock
from controlplane.errors import AdapterUnavailable, InvalidSpec, NotFound
from controlplane.incident import service as incidents
from controlplane.risk.models import (
    DriftReport,
    DriftReportAccepted,
    DriftReportRecord,
    SignalOverride,
    SignalSet,
    parse_ttl,
)
from controlplane.risk.signals import SIGNAL_NAMES, SignalReading, SignalState, is_off_hours

RECENT_ROLLBACK_WINDOW = timedelta(hours=6)
DEFAULT_BUDGET_QUERY = 'slo:error_budget_remaining:ratio30d{service="{service}"} <= 0'
DEFAULT_BUDGET_QUERY_ALL = "min(slo:error_budget_remaining:ratio30d) <= 0"

Reader = Callable[[Session, str | None], SignalReading]


def check_signal_name(name: str) -> str:
    """Refuse names that are not signals (fail closed: no silent typo)."""
    if name not in SIGNAL_NAMES:
        raise InvalidSpec(
            f"unknown signal {name!r}",
            {"field": "name", "reason": f"expected one of {', '.join(SIGNAL_NAMES)}"},
        )
    return name


class SignalService:
    """Reads the five signals; DB-backed ones are cached briefly, Prometheus for the policy TTL."""

    def __init__(
        self,
        *,
        engine: Engine,
        clock: Clock,
        metrics: MetricsSource | None,
        on_hours: tuple[int, int],
        metrics_ttl_s: float = 60.0,
        local_ttl_s: float = 2.0,
        budget_query: str = DEFAULT_BUDGET_QUERY,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.metrics = metrics
        self.on_hours = on_hours
        self.budget_query = budget_query
        self._ttl = {"error_budget_exhausted": metrics_ttl_s}
        self._local_ttl = local_ttl_s
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str | None], tuple[float, object]] = {}
        self._refreshing: dict[tuple[asyncio.AbstractEventLoop, str | None], asyncio.Lock] = {}
        self._readers: dict[str, Reader] = {
            "incident_active": self._incident_active,
            "drift_severe": self._drift_severe,
            "error_budget_exhausted": self._error_budget,
            "off_hours": self._off_hours,
            "recent_rollback": self._recent_rollback,
        }

    def invalidate(self) -> None:
        """Drop cached readings after a local change (incident, override, drift report)."""
        with self._lock:
            self._cache.clear()

    def readings(self, service: str | None) -> list[SignalReading]:
        """All five signals for a service (or plane-wide), live overrides taking precedence."""
        with Session(self.engine) as session:  # connects only on a cache miss
            overrides = self._live_overrides(session, service)
            return [
                overrides.get(name) or self._read(name, session, service) for name in SIGNAL_NAMES
            ]

    async def readings_async(self, service: str | None) -> list[SignalReading]:
        """Readings for a coroutine: from the cache, else one refresh shared by all waiters."""
        cached = self.cached_readings(service)
        if cached is not None:
            return cached
        key = (asyncio.get_running_loop(), service)  # an asyncio.Lock belongs to one loop
        lock = self._refreshing.setdefault(key, asyncio.Lock())
        async with lock:  # when the cache expires, one thread queries; the others wait for it
            cached = self.cached_readings(service)
            if cached is not None:
                return cached
            return await asyncio.to_thread(self.readings, service)

    def cached_readings(self, service: str | None) -> list[SignalReading] | None:
        """All five readings if every one is fresh in the cache (no I/O), else None."""
        overrides = self._fresh(("__overrides__", service))
        if not isinstance(overrides, dict):
            return None
        found = []
        for name in SIGNAL_NAMES:
            reading = overrides.get(name) or self._fresh((name, service))
            if not isinstance(reading, SignalReading):
                return None
            found.append(reading)
        return found

    def _fresh(self, key: tuple[str, str | None]) -> object | None:
        with self._lock:
            hit = self._cache.get(key)
        return hit[1] if hit and hit[0] > time.monotonic() else None

    def _store(self, key: tuple[str, str | None], ttl: float, value: object) -> None:
        with self._lock:
            self._cache[key] = (time.monotonic() + ttl, value)

    def _read(self, name: str, session: Session, service: str | None) -> SignalReading:
        cached = self._fresh((name, service))
        if isinstance(cached, SignalReading):
            return cached
        reading = self._readers[name](session, service)
        self._store((name, service), self._ttl.get(name, self._local_ttl), reading)
        return reading

    def _live_overrides(self, session: Session, service: str | None) -> dict[str, SignalReading]:
        cached = self._fresh(("__overrides__", service))
        if isinstance(cached, dict):
            return cached
        found = self._query_overrides(session, service)
        self._store(("__overrides__", service), self._local_ttl, found)
        return found

    def _query_overrides(self, session: Session, service: str | None) -> dict[str, SignalReading]:
        """Live overrides for this scope, the newest winning per signal."""
        now = self.clock.now()
        query = select(SignalOverride).where(
            col(SignalOverride.cleared_at).is_(None), SignalOverride.expires_at > now
        )
        if service is None:
            query = query.where(col(SignalOverride.service).is_(None))
        else:
            query = query.where(
                or_(col(SignalOverride.service).is_(None), SignalOverride.service == service)
            )
        found: dict[str, SignalReading] = {}
        for row in session.exec(query.order_by(col(SignalOverride.created_at))).all():
            found[row.name] = SignalReading(
                name=row.name,
                state=SignalState(row.state),
                source="override",
                observed_at=row.created_at,
                evidence={
                    "override_id": row.id,
                    "reason": row.reason,
                    "set_by": row.set_by,
                    "expires_at": row.expires_at.isoformat(),
                    "scope": row.service or "all services",
                },
            )
        return found

    def _incident_active(self, session: Session, service: str | None) -> SignalReading:
        open_ = incidents.blocking_open(session=session, service=service)
        state = SignalState.ACTIVE if open_ else SignalState.INACTIVE
        evidence = {"open_p1_p2": [f"{i.id} {i.severity} {i.title}" for i in open_][:10]}
        return SignalReading("incident_active", state, "incidents", self.clock.now(), evidence)

    def _drift_severe(self, session: Session, service: str | None) -> SignalReading:
        query = select(DriftReportRecord)
        if service is not None:
            query = query.where(DriftReportRecord.service == service)
        latest = session.exec(query.order_by(col(DriftReportRecord.received_at).desc())).first()
        if latest is None:
            return SignalReading(
                "drift_severe",
                SignalState.INACTIVE,
                "drift-reports",
                self.clock.now(),
                {"latest_report": None, "note": "no drift report received yet"},
            )
        state = SignalState.ACTIVE if latest.severe else SignalState.INACTIVE
        evidence = {
            "latest_report": latest.id,
            "service": latest.service,
            "received_at": latest.received_at.isoformat(),
            "max_psi_over_threshold": round(latest.max_ratio, 4),
        }
        return SignalReading("drift_severe", state, "drift-reports", latest.received_at, evidence)

    def _error_budget(self, session: Session, service: str | None) -> SignalReading:
        now = self.clock.now()
        if self.metrics is None:
            return SignalReading(
                "error_budget_exhausted",
                SignalState.DISABLED,
                "none",
                now,
                {"note": "no Prometheus configured (CONTROLPLANE_PROMETHEUS_URL)"},
            )
        promql = (
            self.budget_query.replace("{service}", service) if service else DEFAULT_BUDGET_QUERY_ALL
        )
        try:
            result = self.metrics.query(promql)
        except AdapterUnavailable as exc:
            return SignalReading(
                "error_budget_exhausted",
                SignalState.UNKNOWN,
                self.metrics.name,
                now,
                {"query": promql, "error": exc.message},
            )
        state = SignalState.ACTIVE if result.matched else SignalState.INACTIVE
        return SignalReading(
            "error_budget_exhausted",
            state,
            self.metrics.name,
            now,
            {"query": promql, "matched": len(result.samples)},
        )

    def _off_hours(self, session: Session, service: str | None) -> SignalReading:
        now = self.clock.now()
        state = SignalState.ACTIVE if is_off_hours(now, self.on_hours) else SignalState.INACTIVE
        start, end = self.on_hours
        evidence = {"now_utc": now.isoformat(), "on_hours_utc": f"{start:02d}-{end:02d} Mon-Fri"}
        return SignalReading("off_hours", state, "clock", now, evidence)

    def _recent_rollback(self, session: Session, service: str | None) -> SignalReading:
        now = self.clock.now()
        hit = audit.latest_success(
            session=session,
            operation_prefix="rollback",
            since=now - RECENT_ROLLBACK_WINDOW,
            service=service,
        )
        state = SignalState.ACTIVE if hit else SignalState.INACTIVE
        evidence: dict[str, object] = {"window_hours": 6, "audit_seq": hit.seq if hit else None}
        if hit:
            evidence["at"] = hit.timestamp
        return SignalReading("recent_rollback", state, "audit-log", now, evidence)


def set_override(
    *, session: Session, clock: Clock, name: str, request: SignalSet, set_by: str
) -> SignalOverride:
    """Store a manual override (the caller audits it in the same transaction)."""
    check_signal_name(name)
    now = clock.now()
    row = SignalOverride(
        id=uuid.uuid4().hex,
        name=name,
        state=request.state,
        service=request.service,
        reason=request.reason,
        set_by=set_by,
        created_at=now,
        expires_at=now + parse_ttl(request.ttl),
    )
    session.add(row)
    session.flush()
    return row


def clear_overrides(*, session: Session, clock: Clock, name: str, service: str | None) -> list[str]:
    """Clear live overrides of a signal for a scope; 404 if there were none."""
    check_signal_name(name)
    now = clock.now()
    query = select(SignalOverride).where(
        SignalOverride.name == name,
        col(SignalOverride.cleared_at).is_(None),
        SignalOverride.expires_at > now,
    )
    query = query.where(
        col(SignalOverride.service).is_(None)
        if service is None
        else SignalOverride.service == service
    )
    rows = list(session.exec(query).all())
    if not rows:
        raise NotFound(f"no live override for {name}" + (f" on {service}" if service else ""))
    for row in rows:
        row.cleared_at = now
        session.add(row)
    session.flush()
    return [r.id for r in rows]


def accept_drift_report(
    *, session: Session, clock: Clock, report: DriftReport
) -> DriftReportAccepted:
    """Store a drift report; severity is recomputed here, never trusted from the sender."""
    ratios = [f.psi / f.threshold for f in report.features]
    row = DriftReportRecord(
        id=uuid.uuid4().hex,
        service=report.service,
        received_at=clock.now(),
        severe=bool(report.severe_features()),
        max_ratio=max(ratios),
        report=report.model_dump(mode="json"),
    )
    session.add(row)
    session.flush()
    return DriftReportAccepted(
        id=row.id,
        service=row.service,
        severe=row.severe,
        severe_features=report.severe_features(),
        max_ratio=row.max_ratio,
    )
