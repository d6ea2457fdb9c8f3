"""Risk signals: readings through the cache, overrides and suppressions, drift reports.

`SignalService` answers "what do the signals say for this service and environment", reading real
sources through `readers.py`, applying live overrides (`signals.effective`) and caching both. The
functions below store what the governed risk actions (`kinds.py`) decide.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, or_, select

from controlplane import db
from controlplane.adapters.base import MetricsSource
from controlplane.clock import Clock
from controlplane.errors import InvalidSpec
from controlplane.handoff.ml import DriftReport
from controlplane.risk.cache import SignalCache, combine
from controlplane.risk.models import (
    DriftBaseline,
    DriftReportAccepted,
    DriftReportRecord,
    SignalOverride,
    parse_ttl,
)
from controlplane.risk.readers import Readers, Scope
from controlplane.risk.signals import SIGNAL_NAMES, OverrideFact, SignalReading, SignalState

log = logging.getLogger(__name__)
SIGNALS = "signals"  # the change topic that invalidates cached readings after commit


def check_signal_name(name: str) -> str:
    """Refuse names that are not signals (fail closed: no silent typo)."""
    if name not in SIGNAL_NAMES:
        raise InvalidSpec(
            f"unknown signal {name!r}",
            {"field": "name", "reason": f"expected one of {', '.join(SIGNAL_NAMES)}"},
        )
    return name


class SignalService:
    """The five signals per scope; DB-backed ones cached briefly, Prometheus for the policy TTL."""

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
        self.readers = Readers(clock=clock, metrics=metrics, on_hours=on_hours)
        self.cache = SignalCache()
        self._ttl = {"error_budget_exhausted": metrics_ttl_s}
        self._local_ttl = local_ttl_s
        self._refreshing: dict[tuple[asyncio.AbstractEventLoop, Scope], asyncio.Lock] = {}
        self._ahead: dict[tuple[asyncio.AbstractEventLoop, Scope], asyncio.Task[Any]] = {}
        self._ahead_s = min(0.5, local_ttl_s / 4)  # refresh this long before the cache expires

    def invalidate(self) -> None:
        """Drop cached readings after a committed local change (see `db.on_change`)."""
        self.cache.invalidate()

    def readings(
        self, service: str | None, environment: str | None = None, *, force: bool = False
    ) -> list[SignalReading]:
        """All five effective signals for a scope (`force`: read again, a refresh ahead)."""
        scope = Scope(service, environment)
        gen = self.cache.generation
        with Session(self.engine) as session:  # connects only on a cache miss
            overrides = None if force else self.cache.overrides(scope)
            if overrides is None:
                overrides = tuple(_live(session, self.clock, scope))
                self.cache.store_overrides(scope, overrides, self._local_ttl, gen)
            real = [self._real(name, session, scope, gen, force) for name in SIGNAL_NAMES]
        return combine(real, overrides)

    def real(self, name: str, service: str | None, environment: str | None) -> SignalReading:
        """One signal as its source says, without overrides (what a suppression would hide)."""
        with Session(self.engine) as session:
            return self.readers.by_name[name](session, Scope(service, environment))

    async def readings_async(
        self, service: str | None, environment: str | None = None
    ) -> list[SignalReading]:
        """Readings for a coroutine: from the cache, else one refresh shared by all waiters.

        Under steady traffic the cache is refreshed in the background shortly before it expires,
        so requests do not queue behind the refresh; nothing is ever served past its TTL.
        """
        scope = Scope(service, environment)
        cached, expires = self.cache.snapshot(scope)
        if cached is not None:
            if expires - time.monotonic() < self._ahead_s:
                self._refresh_ahead(scope)
            return cached
        key = (asyncio.get_running_loop(), scope)  # an asyncio.Lock belongs to one loop
        lock = self._refreshing.setdefault(key, asyncio.Lock())
        async with lock:  # when the cache expires, one thread queries; the others wait for it
            cached, _ = self.cache.snapshot(scope)
            if cached is not None:
                return cached
            return await asyncio.to_thread(self.readings, service, environment)

    def _refresh_ahead(self, scope: Scope) -> None:
        """Start one background refresh for this scope unless one is running."""
        loop = asyncio.get_running_loop()
        key = (loop, scope)
        running = self._ahead.get(key)
        if running is not None and not running.done():
            return
        task = loop.create_task(
            asyncio.to_thread(self.readings, scope.service, scope.environment, force=True)
        )
        self._ahead[key] = task
        task.add_done_callback(_log_refresh_failure)

    def _real(
        self, name: str, session: Session, scope: Scope, gen: int, force: bool
    ) -> SignalReading:
        cached = None if force else self.cache.real(name, scope)
        if cached is not None:
            return cached
        reading = self.readers.by_name[name](session, scope)
        self.cache.store_real(name, scope, reading, self._ttl.get(name, self._local_ttl), gen)
        return reading


def _fact(row: SignalOverride) -> OverrideFact:
    return OverrideFact(
        id=row.id,
        name=row.name,
        state=SignalState(row.state),
        service=row.service,
        environment=row.environment,
        reason=row.reason,
        set_by=row.set_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        approved_by=tuple(row.approved_by or ()),
    )


def _live(session: Session, clock: Clock, scope: Scope) -> list[OverrideFact]:
    """Live overrides that speak for a scope, oldest first."""
    query = select(SignalOverride).where(
        col(SignalOverride.cleared_at).is_(None), SignalOverride.expires_at > clock.now()
    )
    if scope.service is None:
        query = query.where(col(SignalOverride.service).is_(None))
    else:
        query = query.where(
            or_(col(SignalOverride.service).is_(None), SignalOverride.service == scope.service)
        )
    rows = session.exec(query.order_by(col(SignalOverride.created_at))).all()
    return [f for f in map(_fact, rows) if f.applies_to(scope.environment)]


def store_override(
    *,
    session: Session,
    clock: Clock,
    name: str,
    state: str,
    ttl: str,
    reason: str,
    service: str | None,
    environment: str | None,
    set_by: str,
    approved_by: Sequence[str] = (),
    action_id: str | None = None,
) -> SignalOverride:
    """Store a raise, or an approved suppression (the governed action records it)."""
    check_signal_name(name)
    now = clock.now()
    row = SignalOverride(
        id=uuid.uuid4().hex,
        name=name,
        state=state,
        service=service,
        environment=environment,
        reason=reason,
        set_by=set_by,
        approved_by=list(approved_by),
        action_id=action_id,
        created_at=now,
        expires_at=now + parse_ttl(ttl),
    )
    session.add(row)
    session.flush()
    db.mark_changed(session, SIGNALS)
    return row


def overrides_in_scope(
    *, session: Session, clock: Clock, name: str, service: str | None, environment: str | None
) -> list[SignalOverride]:
    """The live overrides of one signal set for exactly this scope (what a clear removes)."""
    check_signal_name(name)
    query = select(SignalOverride).where(
        SignalOverride.name == name,
        col(SignalOverride.cleared_at).is_(None),
        SignalOverride.expires_at > clock.now(),
    )
    for column, value in (
        (SignalOverride.service, service),
        (SignalOverride.environment, environment),
    ):
        query = query.where(col(column).is_(None) if value is None else column == value)
    return list(session.exec(query.order_by(col(SignalOverride.created_at))).all())


def live_by_id(*, session: Session, clock: Clock, ids: Sequence[str]) -> list[SignalOverride]:
    """Those of the given overrides that are still live (neither cleared nor expired)."""
    now = clock.now()
    rows = [session.get(SignalOverride, i) for i in ids]
    return [r for r in rows if r is not None and r.cleared_at is None and r.expires_at > now]


def clear(*, session: Session, clock: Clock, ids: Sequence[str]) -> list[str]:
    """Clear the given overrides that are still live; returns the ids it cleared."""
    rows = live_by_id(session=session, clock=clock, ids=ids)
    now = clock.now()
    for row in rows:
        row.cleared_at = now
        session.add(row)
    cleared = [row.id for row in rows]
    session.flush()
    db.mark_changed(session, SIGNALS)
    return cleared


def _max_ratio(report: DriftReport) -> float:
    """The largest PSI / threshold, finite: a subnormal threshold would overflow to inf, which
    JSON cannot carry (the record would read back as null)."""
    return min(max(f.psi / f.threshold for f in report.features), sys.float_info.max)


def accept_drift_report(
    *, session: Session, clock: Clock, report: DriftReport, reported_by: str
) -> DriftReportAccepted:
    """Store a drift report; severity is recomputed here, never trusted from the sender."""
    row = DriftReportRecord(
        id=uuid.uuid4().hex,
        service=report.service,
        reported_by=reported_by,
        received_at=clock.now(),
        severe=report.severe,
        max_ratio=_max_ratio(report),
        report=report.model_dump(mode="json"),
    )
    session.add(row)
    session.flush()
    db.mark_changed(session, SIGNALS)
    return DriftReportAccepted(
        id=row.id,
        service=row.service,
        reported_by=reported_by,
        severe=row.severe,
        severe_features=report.severe_features(),
        max_ratio=row.max_ratio,
    )


def reset_drift_baseline(
    *, session: Session, clock: Clock, service: str, reason: str, by: str, action_id: str
) -> DriftBaseline:
    """Make drift reports received so far stop counting for a service (after approval)."""
    row = DriftBaseline(
        id=uuid.uuid4().hex,
        service=service,
        reset_at=clock.now(),
        reset_by=by,
        reason=reason,
        action_id=action_id,
    )
    session.add(row)
    session.flush()
    db.mark_changed(session, SIGNALS)
    return row


def _log_refresh_failure(task: asyncio.Task[Any]) -> None:
    """A failed refresh ahead is harmless (the next request refreshes in line); say so."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("signal refresh ahead of expiry failed: %s", task.exception())
