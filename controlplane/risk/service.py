"""Live risk signals: read each from its source, cache it, let humans override it (audited)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

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

log = logging.getLogger(__name__)

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
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.metrics = metrics
        self.on_hours = on_hours
        self._ttl = {"error_budget_exhausted": metrics_ttl_s}
        self._local_ttl = local_ttl_s
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str | None], tuple[float, object]] = {}
        self._refreshing: dict[tuple[asyncio.AbstractEventLoop, str | None], asyncio.Lock] = {}
        self._ahead: dict[tuple[asyncio.AbstractEventLoop, str | None], asyncio.Task[Any]] = {}
        self._ahead_s = min(0.5, local_ttl_s / 4)  # refresh this long before the cache expires
        self._generation = 0
        self._readers: dict[str, Reader] = {
            "incident_active": self._incident_active,
            "drift_severe": self._drift_severe,
            "error_budget_exhausted": self._error_budget,
            "off_hours": self._off_hours,
            "recent_rollback": self._recent_rollback,
        }

    def invalidate(self) -> None:
        """Drop cached readings after a local change (incident, override, drift report).

        A refresh that started before the change must not store what it read: the generation
        tells it so (otherwise a pre-incident reading could be served for a whole TTL).
        """
        with self._lock:
            self._cache.clear()
            self._generation += 1

    def readings(self, service: str | None, *, force: bool = False) -> list[SignalReading]:
        """All five signals for a service (or plane-wide), live overrides taking precedence.

        `force` reads everything again even if cached (a refresh ahead of expiry).
        """
        generation = self._generation
        with Session(self.engine) as session:  # connects only on a cache miss
            overrides = self._live_overrides(session, service, generation, force)
            return [
                overrides.get(name) or self._read(name, session, service, generation, force)
                for name in SIGNAL_NAMES
            ]

    async def readings_async(self, service: str | None) -> list[SignalReading]:
        """Readings for a coroutine: from the cache, else one refresh shared by all waiters.

        Under steady traffic the cache is refreshed in the background shortly before it expires,
        so requests do not queue behind the refresh; nothing is ever served past its TTL.
        """
        cached, expires = self._cached(service)
        if cached is not None:
            if expires - time.monotonic() < self._ahead_s:
                self._refresh_ahead(service)
            return cached
        key = (asyncio.get_running_loop(), service)  # an asyncio.Lock belongs to one loop
        lock = self._refreshing.setdefault(key, asyncio.Lock())
        async with lock:  # when the cache expires, one thread queries; the others wait for it
            cached, _ = self._cached(service)
            if cached is not None:
                return cached
            return await asyncio.to_thread(self.readings, service)

    def _cached(self, service: str | None) -> tuple[list[SignalReading] | None, float]:
        """Fresh cached readings and when the first of them expires (monotonic seconds)."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(("__overrides__", service))
            if hit is None or hit[0] <= now or not isinstance(hit[1], dict):
                return None, now
            overrides: dict[str, SignalReading] = hit[1]
            expires, found = hit[0], []
            for name in SIGNAL_NAMES:
                reading = overrides.get(name)
                if reading is None:
                    entry = self._cache.get((name, service))
                    if entry is None or entry[0] <= now or not isinstance(entry[1], SignalReading):
                        return None, now
                    expires, reading = min(expires, entry[0]), entry[1]
                found.append(reading)
        return found, expires

    def _refresh_ahead(self, service: str | None) -> None:
        """Start one background refresh for this service unless one is running."""
        loop = asyncio.get_running_loop()
        key = (loop, service)
        running = self._ahead.get(key)
        if running is not None and not running.done():
            return
        task = loop.create_task(asyncio.to_thread(self.readings, service, force=True))
        self._ahead[key] = task
        task.add_done_callback(_log_refresh_failure)

    def _fresh(self, key: tuple[str, str | None]) -> object | None:
        with self._lock:
            hit = self._cache.get(key)
        return hit[1] if hit and hit[0] > time.monotonic() else None

    def _store(
        self, key: tuple[str, str | None], ttl: float, value: object, generation: int
    ) -> None:
        with self._lock:
            if generation == self._generation:  # else a local change came after this read
                self._cache[key] = (time.monotonic() + ttl, value)

    def _read(
        self, name: str, session: Session, service: str | None, generation: int, force: bool
    ) -> SignalReading:
        cached = None if force else self._fresh((name, service))
        if isinstance(cached, SignalReading):
            return cached
        reading = self._readers[name](session, service)
        self._store((name, service), self._ttl.get(name, self._local_ttl), reading, generation)
        return reading

    def _live_overrides(
        self, session: Session, service: str | None, generation: int, force: bool
    ) -> dict[str, SignalReading]:
        cached = None if force else self._fresh(("__overrides__", service))
        if isinstance(cached, dict):
            return cached
        found = self._query_overrides(session, service)
        self._store(("__overrides__", service), self._local_ttl, found, generation)
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
            DEFAULT_BUDGET_QUERY.replace("{service}", service)
            if service
            else DEFAULT_BUDGET_QUERY_ALL
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


def _log_refresh_failure(task: asyncio.Task[Any]) -> None:
    """A failed refresh ahead is harmless (the next request refreshes in line); say so."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("signal refresh ahead of expiry failed: %s", task.exception())
