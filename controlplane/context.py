"""The app's wiring: every long-lived collaborator, built once per app (read by deps.py only).

Domains never see this object; routes ask deps.py for the parts they use, and services take
those parts as keyword arguments.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from controlplane import db
from controlplane.adapters.base import MetricsSource, WorkloadBackend
from controlplane.adapters.source_control import SourceControl
from controlplane.audit.commit.batcher import Committer, GroupCommitter
from controlplane.audit.commit.remote import ProcessCommitter
from controlplane.audit.recorder import Recorder
from controlplane.audit.signing import Signer
from controlplane.clock import Clock, SystemClock
from controlplane.config import Settings
from controlplane.deploy.executor import Executor
from controlplane.deploy.service import RUNNABLE, SUBJECT
from controlplane.deploy.subject import DeploymentSubject
from controlplane.deploy.worker import DeploymentWorker
from controlplane.dora.wiring import DoraParts, dora_parts
from controlplane.governance.kinds import Registry
from controlplane.governance.service import Door
from controlplane.identity import kinds as identity_kinds
from controlplane.identity import service as identity
from controlplane.incident import kinds as incident_kinds
from controlplane.metrics import PlaneMetrics
from controlplane.notifications import ChangeListener
from controlplane.playbook.rows import RUNNABLE as RUNS_RUNNABLE
from controlplane.playbook.rows import SUBJECT as STEP_SUBJECT
from controlplane.playbook.subject import StepSubject
from controlplane.playbook.wiring import PlaybookParts, playbook_parts
from controlplane.policy.service import Decider
from controlplane.policy.store import PolicyStore
from controlplane.risk import kinds as risk_kinds
from controlplane.risk.service import SIGNALS, SignalService
from controlplane.workload.wiring import Workloads, workload_parts

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    """Long-lived collaborators shared by the routes of one app."""

    settings: Settings
    engine: Engine
    read_engine: Engine
    clock: Clock
    signer: Signer
    tokens: identity.TokenCache
    policies: PolicyStore
    signals: SignalService
    metrics: PlaneMetrics
    audit: Recorder
    decider: Decider
    door: Door
    workloads: Workloads
    executor: Executor
    worker: DeploymentWorker
    playbooks: PlaybookParts
    dora: DoraParts
    listener: ChangeListener | None = None
    source_control: SourceControl | None = None
    admin_token: str | None = None
    closed: bool = False

    def close(self) -> None:
        """Stop background work and release connections (once; later calls do nothing)."""
        if self.closed:
            return
        self.closed = True
        self.worker.stop()
        self.playbooks.worker.stop()
        if self.listener is not None:
            self.listener.close()
        self.audit.close()
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
    """Connect, migrate, load keys and policy, bootstrap the admin, wire the door."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    engine = db.make_engine(settings.resolved_database_url)
    db.migrate(engine)
    read_engine = db.make_read_engine(settings.resolved_database_url, engine)
    clock = clock or SystemClock()
    signer = Signer.load_or_create(settings.signing_key_path)
    with Session(engine) as session:
        admin_token = identity.bootstrap_admin(
            session=session, clock=clock, token_path=settings.admin_token_path
        )
    metrics = PlaneMetrics()
    policies = PolicyStore(settings.policy_dir, check_every_s=settings.policy_check_interval_s)
    signals = SignalService(
        engine=read_engine,
        clock=clock,
        metrics=metrics_source or _prometheus(settings),
        on_hours=settings.on_hours,
        metrics_ttl_s=settings.signal_cache_ttl_s,
        local_ttl_s=settings.signal_local_ttl_s,
    )
    audit = Recorder(
        clock=clock,
        signer=signer,
        committer=_committer(settings, engine, clock, signer),
        checkpoint_every=lambda: settings.audit_checkpoint_every,
        policy_version=lambda: policies.version,
        metrics=metrics,
    )
    decider = Decider(policies=policies, signals=signals, clock=clock, metrics=metrics)
    registry = Registry()
    door = Door(registry=registry, decider=decider, audit=audit, clock=clock, policies=policies)
    parts = workload_parts(settings, workloads)
    executor = Executor(engine=engine, door=door, workloads=parts)
    worker = DeploymentWorker(executor, poll_s=settings.deploy_poll_s)
    _register(registry, clock=clock, policies=policies, signals=signals, worker=worker)
    playbooks = playbook_parts(
        settings,
        engine=engine,
        read_engine=read_engine,
        door=door,
        workloads=parts,
        operations=_operations(policies),
    )
    tokens = identity.TokenCache()
    db.on_change(engine, SIGNALS, signals.invalidate)
    db.on_change(engine, identity.TOKENS, tokens.clear)
    db.on_change(engine, RUNNABLE, worker.kick)
    db.on_change(engine, RUNS_RUNNABLE, playbooks.worker.kick)
    listener = _listener(settings, engine, tokens, signals, worker, playbooks)
    source_control = _source_control(settings, clock)
    return AppContext(
        settings=settings,
        engine=engine,
        read_engine=read_engine,
        clock=clock,
        signer=signer,
        tokens=tokens,
        policies=policies,
        signals=signals,
        metrics=metrics,
        audit=audit,
        decider=decider,
        door=door,
        workloads=parts,
        executor=executor,
        worker=worker,
        playbooks=playbooks,
        listener=listener,
        source_control=source_control,
        dora=dora_parts(settings, source_control),
        admin_token=admin_token,
    )


def _listener(
    settings: Settings,
    engine: Engine,
    tokens: identity.TokenCache,
    signals: SignalService,
    worker: DeploymentWorker,
    playbooks: PlaybookParts,
) -> ChangeListener | None:
    """On PostgreSQL, hear the other replicas' changes (revocations, incidents, overrides)."""
    if engine.dialect.name != "postgresql":
        return None

    def lost() -> None:
        tokens.set_enabled(False)  # fail closed: no cache we cannot invalidate
        signals.invalidate()

    def listening() -> None:
        tokens.set_enabled(True)
        signals.invalidate()  # whatever happened while deaf

    return ChangeListener(
        settings.resolved_database_url,
        {
            identity.TOKENS: tokens.clear,
            SIGNALS: signals.invalidate,
            RUNNABLE: worker.kick,  # another replica approved one: run it sooner
            RUNS_RUNNABLE: playbooks.worker.kick,
        },
        on_lost=lost,
        on_listening=listening,
    )


def _register(
    registry: Registry,
    *,
    clock: Clock,
    policies: PolicyStore,
    signals: SignalService,
    worker: DeploymentWorker,
) -> None:
    """Every governed kind of the plane and the deployment subject, in one place."""
    for kind in (
        *risk_kinds.kinds(clock=clock, policies=policies, signals=signals),
        *incident_kinds.kinds(clock=clock),
        *identity_kinds.kinds(clock=clock),
    ):
        registry.add_kind(kind)
    registry.add_subject(SUBJECT, DeploymentSubject())
    registry.add_subject(STEP_SUBJECT, StepSubject())


def _operations(policies: PolicyStore) -> list[str]:
    """The operations the policy names (a playbook step naming another one is refused)."""
    policy = policies.current()
    return sorted(policy.modes.operations) if policy is not None else []


def _prometheus(settings: Settings) -> MetricsSource | None:
    """The Prometheus source for error_budget_exhausted, when one is configured."""
    if not settings.prometheus_url:
        return None
    from controlplane.adapters.prometheus import PrometheusSource

    token = settings.prometheus_bearer_token
    return PrometheusSource.connect(
        settings.prometheus_url,
        timeout_s=settings.prometheus_timeout_s,
        token=token.get_secret_value() if token else None,
    )


def _source_control(settings: Settings, clock: Clock) -> SourceControl | None:
    """GitHub (through PyGithub) when a token and repository are configured."""
    if settings.github_token is None or not settings.github_repo:
        return None
    from controlplane.adapters.source_control_github import GithubSourceControl

    return GithubSourceControl.connect(
        settings.github_token, settings.github_api_url, settings.github_timeout_s, clock=clock
    )


def _committer(settings: Settings, engine: Engine, clock: Clock, signer: Signer) -> Committer:
    """Where standalone records are group-committed: a writer process unless told otherwise."""

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
