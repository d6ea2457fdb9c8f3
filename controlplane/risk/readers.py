"""The real sources of the five risk signals, one reader each (no cache, no overrides here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from controlplane.adapters.base import MetricsSource
from controlplane.audit import service as audit
from controlplane.clock import Clock
from controlplane.errors import AdapterUnavailable
from controlplane.incident import service as incidents
from controlplane.risk.models import DriftBaseline, DriftReportRecord
from controlplane.risk.signals import SignalReading, SignalState, is_off_hours

RECENT_ROLLBACK_WINDOW = timedelta(hours=6)
BUDGET_SERIES = "slo:error_budget_remaining:ratio30d"  # recorded by ops/prometheus/rules/slo.yml


def budget_query(service: str | None, environment: str | None) -> str:
    """PromQL that matches when the 30-day budget of that scope is spent (a dev budget spent
    does not escalate production)."""
    labels = [f'{k}="{v}"' for k, v in (("service", service), ("environment", environment)) if v]
    return f"min({BUDGET_SERIES}{{{','.join(labels)}}}) <= 0"


@dataclass(frozen=True)
class Scope:
    """What a reading is for: a service (None: plane-wide) in an environment (None: every one)."""

    service: str | None
    environment: str | None


Reader = Callable[[Session, Scope], SignalReading]


class Readers:
    """Reads each signal from its source; `unknown` when a configured source fails."""

    def __init__(
        self, *, clock: Clock, metrics: MetricsSource | None, on_hours: tuple[int, int]
    ) -> None:
        self.clock = clock
        self.metrics = metrics
        self.on_hours = on_hours
        self.by_name: dict[str, Reader] = {
            "incident_active": self.incident_active,
            "drift_severe": self.drift_severe,
            "error_budget_exhausted": self.error_budget,
            "off_hours": self.off_hours,
            "recent_rollback": self.recent_rollback,
        }

    def incident_active(self, session: Session, scope: Scope) -> SignalReading:
        """Open P1/P2 incidents of the service (or plane-wide ones) in the environment."""
        open_ = incidents.blocking_open(
            session=session, service=scope.service, environment=scope.environment
        )
        state = SignalState.ACTIVE if open_ else SignalState.INACTIVE
        evidence = {"open_p1_p2": [f"{i.id} {i.severity} {i.title}" for i in open_][:10]}
        return SignalReading("incident_active", state, "incidents", self.clock.now(), evidence)

    def drift_severe(self, session: Session, scope: Scope) -> SignalReading:
        """Severe when any reporter's newest report (since the last baseline reset) is severe.

        Each drift job speaks for itself: a newer report from another identity can raise the
        signal but never clears what this reporter said.
        """
        latest = _latest_per_reporter(session, scope.service)
        if not latest:
            return SignalReading(
                "drift_severe",
                SignalState.INACTIVE,
                "drift-reports",
                self.clock.now(),
                {"latest_report": None, "note": "no drift report received yet"},
            )
        severe = [r for r in latest if r.severe]
        newest = max(latest, key=lambda r: r.received_at)
        shown = severe or [newest]
        evidence = {
            "reports": [
                {
                    "id": r.id,
                    "service": r.service,
                    "reported_by": r.reported_by,
                    "received_at": r.received_at.isoformat(),
                    "max_psi_over_threshold": round(r.max_ratio, 4),
                    "severe": r.severe,
                }
                for r in shown[:10]
            ]
        }
        state = SignalState.ACTIVE if severe else SignalState.INACTIVE
        at = max(r.received_at for r in shown)
        return SignalReading("drift_severe", state, "drift-reports", at, evidence)

    def error_budget(self, session: Session, scope: Scope) -> SignalReading:
        """The 30-day SLO budget from Prometheus; `disabled` with none configured."""
        now = self.clock.now()
        if self.metrics is None:
            return SignalReading(
                "error_budget_exhausted",
                SignalState.DISABLED,
                "none",
                now,
                {"note": "no Prometheus configured (CONTROLPLANE_PROMETHEUS_URL)"},
            )
        promql = budget_query(scope.service, scope.environment)
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
        evidence = {"query": promql, "matched": len(result.samples)}
        return SignalReading("error_budget_exhausted", state, self.metrics.name, now, evidence)

    def off_hours(self, session: Session, scope: Scope) -> SignalReading:
        """Weekends and weekday hours outside the on-hours window (UTC)."""
        now = self.clock.now()
        state = SignalState.ACTIVE if is_off_hours(now, self.on_hours) else SignalState.INACTIVE
        start, end = self.on_hours
        evidence = {"now_utc": now.isoformat(), "on_hours_utc": f"{start:02d}-{end:02d} Mon-Fri"}
        return SignalReading("off_hours", state, "clock", now, evidence)

    def recent_rollback(self, session: Session, scope: Scope) -> SignalReading:
        """A successful rollback of the service in the audit log within the last 6 h."""
        now = self.clock.now()
        hit = audit.latest_success(
            session=session,
            operation_prefix="rollback",
            since=now - RECENT_ROLLBACK_WINDOW,
            service=scope.service,
        )
        state = SignalState.ACTIVE if hit else SignalState.INACTIVE
        evidence: dict[str, object] = {"window_hours": 6, "audit_seq": hit.seq if hit else None}
        if hit:
            evidence["at"] = hit.timestamp
        return SignalReading("recent_rollback", state, "audit-log", now, evidence)


def _latest_per_reporter(session: Session, service: str | None) -> list[DriftReportRecord]:
    """Each (service, reporter)'s newest report, dropping those before the service's reset."""
    newest = select(
        DriftReportRecord.service,
        DriftReportRecord.reported_by,
        func.max(DriftReportRecord.received_at).label("at"),
    )
    if service is not None:
        newest = newest.where(DriftReportRecord.service == service)
    sub = newest.group_by(DriftReportRecord.service, DriftReportRecord.reported_by).subquery()
    query = select(DriftReportRecord).join(
        sub,
        and_(
            col(DriftReportRecord.service) == sub.c.service,
            col(DriftReportRecord.reported_by) == sub.c.reported_by,
            col(DriftReportRecord.received_at) == sub.c.at,
        ),
    )
    rows = list(session.exec(query).all())
    if not rows:
        return []
    resets = _resets(session, service)
    return [r for r in rows if r.service not in resets or r.received_at >= resets[r.service]]


def _resets(session: Session, service: str | None) -> dict[str, datetime]:
    """The newest drift baseline reset per service."""
    query = select(DriftBaseline.service, func.max(DriftBaseline.reset_at))
    if service is not None:
        query = query.where(DriftBaseline.service == service)
    rows = session.exec(query.group_by(col(DriftBaseline.service))).all()
    return {name: at for name, at in rows if at is not None}
