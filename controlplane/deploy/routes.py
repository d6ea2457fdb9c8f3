"""Deployment endpoints: request (gated), list, show, and what runs where."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from controlplane.adapters.base import RELEASE_REF, Target
from controlplane.audit.redact import redact_text
from controlplane.deploy import service as deployments
from controlplane.deploy.facts import KNOWN_SERVICES
from controlplane.deploy.models import (
    DeploymentPublic,
    DeploymentsPublic,
    ServiceLogs,
    ServiceStatus,
)
from controlplane.deploy.states import DeploymentStatus
from controlplane.deps import (
    DoorDep,
    Operator,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    Viewer,
    WorkloadsDep,
)
from controlplane.errors import GatesRefused
from controlplane.handoff.models import DeploymentRequest
from controlplane.policy.models import Environment

router = APIRouter(prefix="/v1", tags=["deployments"])
KNOWN_SERVICE_PATTERN = "^(" + "|".join(KNOWN_SERVICES) + ")$"


@router.post(
    "/deployments",
    response_model=DeploymentPublic,
    status_code=202,
    responses={409: {"description": "gates refused"}},
)
async def create_deployment(
    body: DeploymentRequest,
    session: SessionDep,
    door: DoorDep,
    workloads: WorkloadsDep,
    settings: SettingsDep,
    principal: Operator,
) -> Any:
    """Gate a deployment and answer at once (202): `approved` (AUTO; the plane's worker rolls it
    out, follow it with GET /v1/deployments/{id}), `pending_approval` (CONSULT/STOP), or 409
    when a gate refuses."""
    dep = await run_in_threadpool(
        deployments.request_deployment,
        session=session,
        door=door,
        workloads=workloads,
        settings=settings,
        principal=principal,
        request=body,
    )
    await run_in_threadpool(session.commit)
    if dep.status == DeploymentStatus.BLOCKED:
        failed = [g for g in dep.gates if not g["passed"]]
        retry = [g["details"]["retry_after"] for g in failed if "retry_after" in g["details"]]
        raise GatesRefused(
            deployments.message(dep, 0, 0),
            {
                "deployment_id": dep.id,
                "failed_gates": failed,
                "retry_after": max(retry, default=None),
            },
        )
    out = await run_in_threadpool(deployments.show, session=session, dep=dep)
    return JSONResponse(out.model_dump(mode="json"), status_code=202)


@router.get("/deployments", response_model=DeploymentsPublic)
def list_deployments(
    session: ReadSessionDep,
    _: Viewer,
    service: str | None = None,
    environment: str | None = None,
    status: str | None = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> DeploymentsPublic:
    """Deployments, newest first."""
    rows = deployments.list_deployments(
        session=session, service=service, environment=environment, status=status, limit=limit
    )
    data = deployments.show_many(session=session, deps=rows)
    return DeploymentsPublic(data=data, count=len(data))


@router.get("/deployments/{deployment_id}", response_model=DeploymentPublic)
def get_deployment(deployment_id: str, session: ReadSessionDep, _: Viewer) -> DeploymentPublic:
    """One deployment with its decision, gates, approvals and health."""
    dep = deployments.get(session=session, deployment_id=deployment_id)
    return deployments.show(session=session, dep=dep)


@router.get("/services", response_model=list[ServiceStatus])
def list_services(
    session: ReadSessionDep, workloads: WorkloadsDep, _: Viewer
) -> list[ServiceStatus]:
    """Per service and environment: the live release, health, since when, where."""
    out = []
    for service in KNOWN_SERVICES:
        for env in ("dev", "staging", "production"):
            live = deployments.live(session=session, service=service, environment=env)
            status = workloads.backend.status(Target(service, env))
            out.append(
                ServiceStatus(
                    service=service,
                    environment=env,
                    release=status.release or (live.release if live else None),
                    deployment_id=live.id if live else None,
                    status=status.state,
                    healthy=status.ready_replicas > 0 if status.state != "absent" else None,
                    since=live.healthy_since if live else None,
                    url=status.url,
                    detail=status.details.get("reason"),
                )
            )
    return out


@router.get("/services/{service}/{environment}/logs", response_model=ServiceLogs)
def service_logs(
    service: Annotated[str, Path(pattern=KNOWN_SERVICE_PATTERN, description="A managed service.")],
    environment: Environment,
    workloads: WorkloadsDep,
    _: Operator,
    release: str | None = Query(
        default=None, pattern=RELEASE_REF.pattern, description="A release's own process log."
    ),
    tail: int = Query(default=100, ge=1, le=5000, description="At most this many lines."),
    after: str | None = Query(default=None, description="The cursor of an earlier answer."),
) -> ServiceLogs:
    """A service's log: its current process, or the newest of `release` (a failed rollout's
    too); with `after`, only what was written since (how `opsctl logs --follow` reads)."""
    chunk = workloads.backend.logs(
        Target(service, environment.value), release=release, tail=tail, after=after
    )
    return ServiceLogs(
        service=service,
        environment=environment.value,
        release=chunk.release,
        source=chunk.source,
        lines=[redact_text(line) for line in chunk.lines],
        cursor=chunk.cursor,
    )
