"""Everything a request needs, built once per app: engine, clock, policy, signals, signer."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import Engine
from sqlmodel import Session

from controlplane import db
from controlplane.adapters.base import MetricsSource
from controlplane.audit import service as audit_service
from controlplane.audit.models import AuditLine
from controlplane.audit.signing import Signer
from controlplane.clock import Clock, SystemClock
from controlplane.config import Settings
from controlplane.identity import service as identity
from controlplane.identity.models import Principal
from controlplane.policy.store import PolicyStore
from controlplane.risk.service import SignalService

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
    clock: Clock
    signer: Signer
    tokens: identity.TokenCache
    policies: PolicyStore
    signals: SignalService
    metrics: PlaneMetrics
    admin_token: str | None = None

    def audit(
        self,
        session: Session,
        principal: Principal,
        *,
        operation: str,
        result: str,
        environment: str | None = None,
        service: str | None = None,
        base_mode: str | None = None,
        final_mode: str | None = None,
        signals: Sequence[Mapping[str, Any]] = (),
        decision_id: str | None = None,
        approvers: Sequence[str] = (),
        inputs: Mapping[str, Any] | None = None,
        outputs: Mapping[str, Any] | None = None,
        policy_version: str | None = None,
    ) -> AuditLine:
        """Append an audit record for this principal inside the caller's transaction."""
        try:
            line = audit_service.record(
                session=session,
                clock=self.clock,
                actor=principal.name,
                actor_kind=principal.kind,
                operation=operation,
                result=result,
                environment=environment,
                service=service,
                base_mode=base_mode,
                final_mode=final_mode,
                signals=signals,
                decision_id=decision_id,
                approvers=approvers,
                inputs=inputs,
                outputs=outputs,
                policy_version=policy_version or self.policies.version,
                signer=self.signer,
                checkpoint_every=self.settings.audit_checkpoint_every,
            )
        except Exception:
            self.metrics.audit_failures.inc()
            raise
        self.metrics.audit_appends.inc()
        return line


def build_context(
    settings: Settings, *, clock: Clock | None = None, metrics_source: MetricsSource | None = None
) -> AppContext:
    """Connect, migrate, load keys and policy, bootstrap the admin on first start."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    engine = db.make_engine(settings.resolved_database_url)
    db.migrate(engine)
    clock = clock or SystemClock()
    if metrics_source is None and settings.prometheus_url:
        from controlplane.adapters.prometheus import PrometheusSource

        token = settings.prometheus_bearer_token
        metrics_source = PrometheusSource.connect(
            settings.prometheus_url,
            timeout_s=settings.prometheus_timeout_s,
            token=token.get_secret_value() if token else None,
        )
    signer = Signer.load_or_create(settings.state_dir / "audit-signing.key")
    with Session(engine) as session:
        admin_token = identity.bootstrap_admin(
            session=session, clock=clock, token_path=settings.admin_token_path
        )
    return AppContext(
        settings=settings,
        engine=engine,
        clock=clock,
        signer=signer,
        tokens=identity.TokenCache(),
        policies=PolicyStore(settings.policy_dir),
        signals=SignalService(
            clock=clock,
            metrics=metrics_source,
            on_hours=settings.on_hours,
            metrics_ttl_s=settings.signal_cache_ttl_s,
            local_ttl_s=settings.signal_local_ttl_s,
        ),
        metrics=PlaneMetrics(),
        admin_token=admin_token,
    )
