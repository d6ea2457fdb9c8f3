"""Everything a request needs, built once per app: engine, clock, policy, signals, signer."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import Engine
from sqlmodel import Session

from controlplane import db
from controlplane.adapters.base import MetricsSource, Release, WorkloadBackend
from controlplane.audit import service as audit_service
from controlplane.audit.batcher import Committer, GroupCommitter
from controlplane.audit.models import Appended
from controlplane.audit.remote import ProcessCommitter
from controlplane.audit.signing import Signer
from controlplane.clock import Clock, SystemClock
from controlplane.config import Settings
from controlplane.identity import service as identity
from controlplane.identity.models import Principal
from controlplane.policy.store import PolicyStore
from controlplane.risk.service import SignalService
from controlplane.workload.wiring import HealthCheck, ReleaseCatalog, workload_parts

log = logging.getLogger(__name__)


@dataclass
class PlaneMetrics:
    """The plane's own Prometheus metrics, on a registry per app (tests build many apps)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.decisions = Counter(
            "controlplane_decisions_total",
            "Decisions by final mode",
            ["final_mode", "environment"],
            registry=self.registry,
        )
        self.audit_appends = Counter(
            "controlplane_audit_appends_total", "Audit records written", registry=self.registry
        )
        self.audit_failures = Counter(
            "controlplane_audit_failures_total",
            "Audit appends that failed (action refused)",
            registry=self.registry,
        )
        self.requests = Histogram(
            "controlplane_http_request_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            registry=self.registry,
        )


@dataclass
class AppContext:
    """Long-lived collaborators shared by the routes of one app."""

    settings: Settings
    engine: Engine
    read_engine: Engine
    committer: Committer
    clock: Clock
    signer: Signer
    tokens: identity.TokenCache
    policies: PolicyStore
    signals: SignalService
    metrics: PlaneMetrics
    workloads: WorkloadBackend
    releases: ReleaseCatalog
    health: HealthCheck
    admin_token: str | None = None

    def check_release(self, ref: str) -> None:
        """Refuse (404) a release the backend cannot run."""
        self.releases.check(ref)

    def resolve_release(self, ref: str) -> Release:
        """What the workload backend needs to run a release."""
        return self.releases.resolve(ref)

    def verify_health(self, url: str) -> dict[str, Any]:
        """Readiness and error rate of a freshly rolled-out release."""
        return self.health(url)

    def audit(self, session: Session, principal: Principal, **fields: Any) -> Appended:
        """Append a record for this principal inside the caller's transaction."""
        with self._counted():
            return audit_service.record(
                session=session,
                clock=self.clock,
                entry=self._entry(principal, fields),
                signer=self.signer,
                checkpoint_every=self.settings.audit_checkpoint_every,
            )

    def audit_standalone(self, principal: Principal, **fields: Any) -> Appended:
        """Record something whose only effect is the record (a decision), via group commit."""
        with self._counted():
            return self.committer.submit(self._entry(principal, fields))

    async def audit_standalone_async(self, principal: Principal, **fields: Any) -> Appended:
        """The same as audit_standalone, awaited on the event loop instead of a thread."""
        with self._counted():
            return await self.committer.append(self._entry(principal, fields))

    @contextmanager
    def _counted(self) -> Iterator[None]:
        """Count audit appends and failures (a failure still propagates: fail closed)."""
        try:
            yield
        except Exception:
            self.metrics.audit_failures.inc()
            raise
        self.metrics.audit_appends.inc()

    def _entry(self, principal: Principal, fields: dict[str, Any]) -> dict[str, Any]:
        fields.setdefault("policy_version", self.policies.version)
        return audit_service.make_entry(actor=principal.name, actor_kind=principal.kind, **fields)

    def close(self) -> None:
        """Stop background work and release connections."""
        self.committer.close()
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


def build_context(
    settings: Settings,
    *,
    clock: Clock | None = None,
    metrics_source: MetricsSource | None = None,
    workloads: WorkloadBackend | None = None,
) -> AppContext:
    """Connect, migrate, load keys and policy, bootstrap the admin on first start."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    engine = db.make_engine(settings.resolved_database_url)
    db.migrate(engine)
    read_engine = db.make_read_engine(settings.resolved_database_url, engine)
    clock = clock or SystemClock()
    if metrics_source is None and settings.prometheus_url:
        from controlplane.adapters.prometheus import PrometheusSource

        token = settings.prometheus_bearer_token
        metrics_source = PrometheusSource.connect(
            settings.prometheus_url,
            timeout_s=settings.prometheus_timeout_s,
            token=token.get_secret_value() if token else None,
        )
    signer = Signer.load_or_create(settings.signing_key_path)
    with Session(engine) as session:
        admin_token = identity.bootstrap_admin(
            session=session, clock=clock, token_path=settings.admin_token_path
        )
    return AppContext(
        settings=settings,
        engine=engine,
        read_engine=read_engine,
        committer=_committer(settings, engine, clock, signer),
        clock=clock,
        signer=signer,
        tokens=identity.TokenCache(),
        policies=PolicyStore(settings.policy_dir, check_every_s=settings.policy_check_interval_s),
        signals=SignalService(
            engine=read_engine,
            clock=clock,
            metrics=metrics_source,
            on_hours=settings.on_hours,
            metrics_ttl_s=settings.signal_cache_ttl_s,
            local_ttl_s=settings.signal_local_ttl_s,
        ),
        metrics=PlaneMetrics(),
        **workload_parts(settings, workloads),
        admin_token=admin_token,
    )


def _committer(settings: Settings, engine: Engine, clock: Clock, signer: Signer) -> Committer:
    """Where decision records are group-committed: a writer process unless told otherwise."""

    def every() -> int:
        return settings.audit_checkpoint_every

    if settings.audit_writer == "process":
        return ProcessCommitter(
            engine=engine,
            database_url=settings.resolved_database_url,
            signing_key=settings.signing_key_path,
            clock=clock,
            signer=signer,
            checkpoint_every=every,
        )
    return GroupCommitter(engine=engine, clock=clock, signer=signer, checkpoint_every=every)
