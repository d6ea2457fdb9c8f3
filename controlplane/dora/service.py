"""Collect DORA's rows from the deployment and incident tables and hand them to metrics.py.

The database does the volume: per-day counts are one GROUP BY, and the rows that medians need
are fetched for one window only, as bare numbers (epoch seconds computed in SQL). Written in
SQLAlchemy Core with one dialect switch (epoch seconds) so it runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    and_,
    case,
    cast,
    extract,
    func,
    or_,
    select,
)
from sqlmodel import Session

from controlplane.clock import Clock
from controlplane.deploy.models import Deployment
from controlplane.dora import metrics, timeline
from controlplane.dora.commits import CommitTimes, Shipped, lead_samples
from controlplane.dora.metrics import BandTable, DayCounts, Rows, Sample
from controlplane.dora.models import REQUESTER_KINDS, DoraReport
from controlplane.dora.timeline import Finished
from controlplane.dora.training import TrainingTimes
from controlplane.handoff.invariants import KNOWN_SERVICES
from controlplane.incident.models import Incident

PRODUCTION = "production"
FAILED = ("failed", "rolled_back")
FINISHED = ("succeeded", *FAILED)
DEP = Deployment.__table__  # type: ignore[attr-defined]
INC = Incident.__table__  # type: ignore[attr-defined]


def epoch(column: Any, dialect: str) -> ColumnElement[float]:
    """Seconds since 1970 of a stored (naive UTC) timestamp, computed by the database."""
    if dialect == "sqlite":
        # julianday is a double of days: exact to ~50 us, so keep milliseconds
        return func.round((func.julianday(column) - 2440587.5) * 86400.0, 3)
    return cast(extract("epoch", column), Float)


def day(column: Any, dialect: str) -> ColumnElement[int]:
    """The UTC day number (days since 1970) of a stored timestamp."""
    if dialect == "sqlite":  # CAST truncates, which is floor after 1970; no math functions needed
        return cast(epoch(column, dialect) / 86400.0, Integer)
    return cast(func.floor(epoch(column, dialect) / 86400.0), Integer)


def _in_window(start: datetime, end: datetime, service: str | None) -> list[ColumnElement[bool]]:
    """Finished production rows of the window (the planner picks the index: see docs/dora.md)."""
    where = [
        DEP.c.environment == PRODUCTION,
        DEP.c.finished_at >= start,
        DEP.c.finished_at < end,
        DEP.c.status.in_(FINISHED),
    ]
    if service is not None:
        where.append(DEP.c.service == service)
    return where


def day_counts(
    session: Session, start: datetime, end: datetime, service: str | None
) -> list[DayCounts]:
    """Per service, requester kind and day: deployments, finished, failed rollouts, rollbacks."""
    dialect = session.get_bind().dialect.name
    deploy = DEP.c.kind == "deploy"
    failed = and_(deploy, DEP.c.status.in_(FAILED))  # + linked ones: see linked_failures
    d = day(DEP.c.finished_at, dialect).label("day")

    def count(cond: ColumnElement[bool]) -> Any:
        return func.sum(case((cond, 1), else_=0))

    query = (
        select(
            DEP.c.service,
            DEP.c.requested_kind,
            d,
            count(and_(deploy, DEP.c.status == "succeeded")),
            count(deploy),
            count(failed),
            count(and_(DEP.c.kind == "rollback", DEP.c.status == "succeeded")),
        )
        .where(*_in_window(start, end, service))
        .group_by(DEP.c.service, DEP.c.requested_kind, d)
    )
    return [
        DayCounts(r[0], r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]))
        for r in session.connection().execute(query).all()
    ]


class WindowRow(NamedTuple):
    """A finished production deployment or rollback of the window, as bare numbers."""

    service: str
    requester: str
    kind: str
    status: str
    finished: float
    began: float | None  # failed rollouts only
    commit_time: float | None  # succeeded ones only
    commit_sha: str | None = None
    release: str | None = None


def window_rows(
    session: Session, start: datetime, end: datetime, service: str | None,
    *, with_sha: bool, with_release: bool,
) -> list[WindowRow]:  # fmt: skip
    """One pass over the window's finished production rows, in time order."""
    dialect = session.get_bind().dialect.name
    extra = [c for c, on in ((DEP.c.commit_sha, with_sha), (DEP.c.release, with_release)) if on]
    query = (
        select(
            DEP.c.service,
            DEP.c.requested_kind,
            DEP.c.kind,
            DEP.c.status,
            epoch(DEP.c.finished_at, dialect),
            # only where used: parsing timestamps is most of the database's work per row
            case(
                (
                    DEP.c.status.in_(FAILED),
                    epoch(func.coalesce(DEP.c.started_at, DEP.c.finished_at), dialect),
                ),
                else_=None,
            ),
            case((DEP.c.status == "succeeded", epoch(DEP.c.commit_time, dialect)), else_=None),
            *extra,
        )
        .where(*_in_window(start, end, service))
        .order_by(DEP.c.finished_at)  # per service in time order too; an index gives it as is
    )
    out: list[WindowRow] = []
    for r in session.connection().execute(query).all():
        rest = list(r[7:])
        sha = rest.pop(0) if with_sha else None
        release = rest.pop(0) if with_release else None
        out.append(WindowRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], sha, release))
    return out


def _previous_commit(session: Session, service: str, before: datetime) -> str | None:
    """The commit of the service's last production deployment before the window."""
    query = (
        select(DEP.c.commit_sha)
        .where(
            DEP.c.service == service,
            DEP.c.environment == PRODUCTION,
            DEP.c.kind == "deploy",
            DEP.c.status == "succeeded",
            DEP.c.created_at < before,
            DEP.c.finished_at < before,
        )
        .order_by(DEP.c.created_at.desc())
        .limit(1)
    )
    return session.connection().execute(query).scalar()


def shipped_of(
    session: Session, rows: Sequence[WindowRow], start: datetime, *, with_sha: bool
) -> list[Shipped]:
    """Succeeded deployments (not rollbacks) with the commit of the one before, for lead time."""
    last_sha: dict[str, str | None] = {}
    out: list[Shipped] = []
    for r in rows:
        if r.kind != "deploy" or r.status != "succeeded":
            continue
        if with_sha and r.service not in last_sha:
            last_sha[r.service] = _previous_commit(session, r.service, start)
        out.append(
            Shipped(r.service, r.requester, r.finished, r.commit_sha, r.commit_time,
                    last_sha.get(r.service))
        )  # fmt: skip
        if with_sha:
            last_sha[r.service] = r.commit_sha
    return out


def linked_incidents(
    session: Session, start: datetime, end: datetime, service: str | None
) -> list[tuple[Any, ...]]:
    """Window deployments that incidents name as their cause, with the incidents' first times.

    Driven from the (small) incident table, joined by primary key."""
    dialect = session.get_bind().dialect.name
    query = (
        select(
            DEP.c.service,
            DEP.c.requested_kind,
            DEP.c.status,
            epoch(func.coalesce(DEP.c.started_at, DEP.c.finished_at), dialect),
            epoch(DEP.c.finished_at, dialect),
            func.min(epoch(INC.c.opened_at, dialect)),
            func.min(epoch(INC.c.mitigated_at, dialect)),
            func.min(epoch(INC.c.resolved_at, dialect)),
        )
        .select_from(INC.join(DEP, DEP.c.id == INC.c.deployment_id))
        .where(*_in_window(start, end, service), DEP.c.kind == "deploy")
        .group_by(
            INC.c.deployment_id,
            DEP.c.service,
            DEP.c.requested_kind,
            DEP.c.status,
            DEP.c.started_at,
            DEP.c.finished_at,
        )
    )
    return [tuple(r) for r in session.connection().execute(query)]


def linked_failures(linked: Sequence[tuple[Any, ...]]) -> list[DayCounts]:
    """Succeeded deployments an incident names as its cause: failed, each once (however many
    incidents name it; failed rollouts are already counted by day_counts)."""
    return [
        DayCounts(svc, requester, metrics.day_of(finished), failed=1)
        for svc, requester, status, _, finished, *_ in linked
        if status not in FAILED
    ]


def failures(rows: Sequence[WindowRow], linked: Sequence[tuple[Any, ...]]) -> list[Sample]:
    """One recovery sample per failed production deployment of the window.

    A failed or rolled-back rollout: from its start to its end (the plane kept or put back the
    previous release then). A deployment linked to an incident: from the incident's start to the
    first restore after it (a later deployment or rollback, the mitigation or the resolution)."""
    restores: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if r.status == "succeeded":
            restores[r.service].append(r.finished)  # in time order per service
    out: list[Sample] = []
    for r in rows:
        if r.kind == "deploy" and r.status in FAILED:
            began = r.finished if r.began is None else r.began
            out.append(Sample(r.service, r.requester, metrics.day_of(r.finished),
                              r.finished - began))  # fmt: skip
    for svc, requester, status, _, finished, opened, mitigated, resolved in linked:
        if status in FAILED:
            continue  # a failed rollout: counted above, from its own start and end
        after = timeline.first_after(restores[svc], max(opened, finished))
        seconds = timeline.restore_time(opened, after, mitigated, resolved)
        out.append(Sample(svc, requester, metrics.day_of(finished), seconds))
    return out


def open_incidents(
    session: Session, start: datetime, end: datetime, service: str | None
) -> dict[str, list[tuple[float, float | None]]]:
    """Per service, when its production incidents were open during the window."""
    dialect = session.get_bind().dialect.name
    query = select(
        INC.c.service, epoch(INC.c.opened_at, dialect), epoch(INC.c.resolved_at, dialect)
    ).where(
        INC.c.service.is_not(None),
        or_(INC.c.environment == PRODUCTION, INC.c.environment.is_(None)),
        INC.c.opened_at < end,
        or_(INC.c.resolved_at.is_(None), INC.c.resolved_at >= start),
    )
    if service is not None:
        query = query.where(INC.c.service == service)
    out: dict[str, list[tuple[float, float | None]]] = defaultdict(list)
    for svc, opened, resolved in session.connection().execute(query).all():
        out[svc].append((opened, resolved))
    return out


def model_samples(rows: Sequence[WindowRow], training: TrainingTimes | None) -> list[Sample]:
    """Training -> production per deployment (None: no known training time)."""
    if training is None:
        return []  # Rows.model_known False: every deployment is counted as unknown
    out: list[Sample] = []
    for r in rows:
        if r.kind != "deploy" or r.status != "succeeded":
            continue
        trained = training.trained_at(r.release) if training and r.release else None
        seconds = None if trained is None else r.finished - trained
        out.append(Sample(r.service, r.requester, metrics.day_of(r.finished), seconds))
    return out


def report(
    *,
    session: Session,
    clock: Clock,
    window_days: int,
    service: str | None,
    table: BandTable,
    commits: CommitTimes | None = None,
    training: TrainingTimes | None = None,
) -> DoraReport:
    """DORA over the last `window_days` of production, overall, by requester and by service."""
    end = clock.now()
    start = end - timedelta(days=window_days)
    with_sha = commits is not None
    with_release = training is not None and training.available()
    found = window_rows(session, start, end, service, with_sha=with_sha, with_release=with_release)
    shipped = shipped_of(session, found, start, with_sha=with_sha)
    lead, source = lead_samples(shipped, commits)
    deploys = [Finished(s.service, s.requester, s.finished) for s in shipped]
    linked = linked_incidents(session, start, end, service)
    rows = Rows(
        days=[*day_counts(session, start, end, service), *linked_failures(linked)],
        lead=lead,
        recovery=failures(found, linked),
        fixes=timeline.unplanned_fixes(deploys, open_incidents(session, start, end, service)),
        model=model_samples(found, training if with_release else None),
        model_known=with_release,
    )
    views = metrics.views(
        rows, window_days=window_days, table=table,
        first_day=metrics.day_of(start.timestamp()), last_day=metrics.day_of(end.timestamp()),
        services=[service] if service else KNOWN_SERVICES, requesters=REQUESTER_KINDS,
    )  # fmt: skip
    return DoraReport(
        window_days=window_days, start=start, end=end, service=service, bands=table.version,
        bands_report=table.report, overall=views.overall, by_requester=views.by_requester,
        by_service=views.by_service, weekly=views.weekly, lead_time_source=source,
    )  # fmt: skip
