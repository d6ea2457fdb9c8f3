"""Actions on managed workloads: evidence, the previous healthy release, restore, verify, restart.

They go through the workload backend and the deployment records, like a deployment does; a
restore is recorded as a `rollback` deployment row so "what serves" stays true for the plane.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlmodel import Session, col, select

from controlplane.adapters.base import Target
from controlplane.deploy import service as deployments
from controlplane.deploy.models import Deployment
from controlplane.deploy.states import DeploymentStatus
from controlplane.incident import service as incidents
from controlplane.playbook.actions.base import (
    Action,
    ActionFailed,
    ActionInputs,
    ActionOutputs,
    StepContext,
)

ENV = Field(default="production", pattern=r"^[a-z][a-z0-9-]*$")
SERVICE = Field(pattern=r"^[a-z][a-z0-9-]*$")


class TargetIn(ActionInputs):
    service: str = SERVICE
    environment: str = ENV


class Evidence(ActionOutputs):
    state: str
    release: str | None
    url: str | None
    open_incidents: list[dict[str, Any]]
    incident_id: str | None
    recent_deployments: list[dict[str, Any]]
    detail: dict[str, Any]


def collect_evidence(ctx: StepContext, given: TargetIn) -> Evidence:
    """The evidence pack: what runs, open incidents, the last deployments of the target."""
    status = ctx.tools.workloads.backend.status(Target(given.service, given.environment))
    with Session(ctx.tools.engine) as session:
        open_ = incidents.blocking_open(
            session=session, service=given.service, environment=given.environment
        )
        recent = deployments.list_deployments(
            session=session, service=given.service, environment=given.environment, status=None,
            limit=5,
        )  # fmt: skip
    ctx.note(f"{given.service}/{given.environment} is {status.state} on {status.release}")
    return Evidence(
        state=status.state,
        release=status.release,
        url=status.url,
        open_incidents=[{"id": i.id, "severity": i.severity, "title": i.title} for i in open_],
        incident_id=open_[0].id if open_ else None,
        recent_deployments=[
            {"id": d.id, "release": d.release, "status": d.status, "kind": d.kind} for d in recent
        ],
        detail=dict(status.details),
    )


class PreviousOut(ActionOutputs):
    current_release: str | None
    current_deployment: str | None  # what the rollback undoes (the incident's cause)
    target_release: str
    target_deployment: str


def previous_healthy(ctx: StepContext, given: TargetIn) -> PreviousOut:
    """The release before the one serving now that ran healthy (the seed's default target)."""
    with Session(ctx.tools.engine) as session:
        live = deployments.live(
            session=session, service=given.service, environment=given.environment
        )
        query = (
            select(Deployment)
            .where(
                Deployment.service == given.service,
                Deployment.environment == given.environment,
                Deployment.status == DeploymentStatus.SUCCEEDED.value,
                col(Deployment.healthy_since).is_not(None),
            )
            .order_by(col(Deployment.finished_at).desc())
        )
        candidates = [d for d in session.exec(query).all() if live is None or d.id != live.id]
    current = live.release if live else None
    target = next((d for d in candidates if d.release != current), None)
    if target is None:
        raise ActionFailed(
            f"no earlier healthy release of {given.service} in {given.environment} to go back to",
            error="no_target",
            retryable=False,
        )
    ctx.note(f"target: {target.release} (deployment {target.id})")
    return PreviousOut(
        current_release=current,
        current_deployment=live.id if live else None,
        target_release=target.release,
        target_deployment=target.id,
    )


class RestoreIn(TargetIn):
    release: str
    reason: str = Field(default="", max_length=500)


class RolloutOut(ActionOutputs):
    ok: bool
    release: str | None
    previous: str | None
    url: str | None
    duration_s: float
    deployment_id: str | None


def restore(ctx: StepContext, given: RestoreIn) -> RolloutOut:
    """Put the given release back through the backend (the same safe switch as a deploy)."""
    target = Target(given.service, given.environment)
    status = ctx.tools.workloads.backend.status(target)
    if status.release == given.release and status.state == "running":
        ctx.note(f"{given.release} already serves; nothing to restore")
        result_ok, url, duration, previous = True, status.url, 0.0, status.release
    else:
        result = ctx.tools.workloads.backend.restore(
            target, ctx.tools.workloads.releases.resolve(given.release)
        )
        if not result.ok:
            raise ActionFailed(f"restore of {given.release} failed: {result.reason}")
        result_ok, url, duration, previous = True, result.url, result.duration_s, result.previous
    dep = deployments.record_rollback(
        session=ctx.session,
        clock=ctx.tools.clock,
        service=given.service,
        environment=given.environment,
        release=given.release,
        requested_by=ctx.requester.name,
        requested_kind=ctx.requester.kind,
        reason=given.reason or f"playbook run {ctx.run_id}",
        key=ctx.idempotency_key,
    )
    return RolloutOut(
        ok=result_ok,
        release=given.release,
        previous=previous,
        url=url,
        duration_s=duration,
        deployment_id=dep.id,
    )


class HealthOut(ActionOutputs):
    healthy: bool
    release: str | None
    url: str | None
    checks: dict[str, Any]


class VerifyIn(TargetIn):
    release: str | None = None  # when given, that release must be the one serving


def verify(ctx: StepContext, given: VerifyIn) -> HealthOut:
    """/ready and error rate through the plane's health check; a failure is retried."""
    status = ctx.tools.workloads.backend.status(Target(given.service, given.environment))
    if given.release and status.release != given.release:
        raise ActionFailed(f"{status.release} serves, not {given.release}")
    if not status.url:
        raise ActionFailed(f"{given.service}/{given.environment} has no address ({status.state})")
    checks = dict(ctx.tools.workloads.health(status.url))
    if not checks.get("healthy"):
        raise ActionFailed(f"unhealthy: {checks.get('reason', checks)}")
    return HealthOut(healthy=True, release=status.release, url=status.url, checks=checks)


class RestartIn(ActionInputs):
    services: list[str] = Field(min_length=1, max_length=10)
    environment: str = ENV


class RestartOut(ActionOutputs):
    restarted: list[str]
    failed: list[str]


def restart(ctx: StepContext, given: RestartIn) -> RestartOut:
    """Restart each consumer (after a rotation they read the new secret when they start)."""
    done: list[str] = []
    failed: list[str] = []
    for service in given.services:
        target = Target(service, given.environment)
        if ctx.tools.workloads.backend.status(target).state == "absent":
            ctx.note(f"{target.key} is not deployed; nothing to restart")
            continue
        result = ctx.tools.workloads.backend.restart(target)
        (done if result.ok else failed).append(service)
        if not result.ok:
            ctx.note(f"{target.key}: {result.reason}")
    if failed:
        raise ActionFailed(f"restart failed for {', '.join(failed)}")
    return RestartOut(restarted=done, failed=failed)


class ScaleIn(TargetIn):
    replicas: int = Field(ge=0, le=50)


class ScaleOut(ActionOutputs):
    state: str
    replicas: int


def scale(ctx: StepContext, given: ScaleIn) -> ScaleOut:
    """Set the replica count through the backend."""
    status = ctx.tools.workloads.backend.scale(
        Target(given.service, given.environment), given.replicas
    )
    return ScaleOut(state=status.state, replicas=status.replicas)


class RevertIn(TargetIn):
    release: str


class RevertOut(ActionOutputs):
    model_version: str | None
    changed: bool


def revert_model(ctx: StepContext, given: RevertIn) -> RevertOut:
    """The model travels in the release bundle: check the restored release serves its model."""
    wanted = ctx.tools.workloads.releases.resolve(given.release).model_version
    status = ctx.tools.workloads.backend.status(Target(given.service, given.environment))
    if status.release != given.release:
        raise ActionFailed(f"{status.release} serves, not {given.release}: restore it first")
    info = ctx.tools.http.get_json(f"{status.url}/model_info") if status.url else {}
    serving = info.get("model_version") if isinstance(info, dict) else None
    if wanted and serving and serving != wanted:
        raise ActionFailed(f"serving model {serving}, expected {wanted}; reload the release")
    ctx.note(f"model {serving or wanted} serves with {given.release}")
    return RevertOut(model_version=serving or wanted, changed=True)


def actions() -> list[Action[Any, Any]]:
    """The workload actions."""
    return [
        Action("workload.evidence", "rollback.plan", "collect the evidence pack", TargetIn,
               Evidence, collect_evidence),
        Action("release.previous", "rollback.plan", "pick the previous healthy release",
               TargetIn, PreviousOut, previous_healthy),
        Action("workload.restore", "rollback", "restore an earlier release", RestoreIn,
               RolloutOut, restore),
        Action("model.revert", "model.revert", "check the reverted model serves", RevertIn,
               RevertOut, revert_model),
        Action("health.verify", "health.verify", "check /ready and the error rate", VerifyIn,
               HealthOut, verify),
        Action("workload.restart", "restart", "restart consumers", RestartIn, RestartOut,
               restart),
        Action("workload.scale", "scale", "set the replica count", ScaleIn, ScaleOut, scale),
    ]  # fmt: skip
