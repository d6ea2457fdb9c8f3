"""Deployment use cases: gate a request, queue it for approval or run it, answer queries."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from controlplane.approval import service as approvals
from controlplane.audit.chain import canonical_json
from controlplane.deploy import gates
from controlplane.deploy.facts import KNOWN_SERVICES, GateContext, ReleaseFact
from controlplane.deploy.freeze import load_freezes
from controlplane.deploy.models import Deployment, DeploymentPublic
from controlplane.errors import InvalidSpec, NotFound
from controlplane.handoff.models import DeploymentRequest
from controlplane.handoff.release import Release
from controlplane.identity.models import Principal
from controlplane.policy import service as decisions
from controlplane.policy.models import Decision, DecisionInput, Environment

if TYPE_CHECKING:
    from controlplane.context import AppContext


def request_hash(request: DeploymentRequest) -> str:
    """sha256 of the exact request: approvals are bound to it."""
    return hashlib.sha256(canonical_json(request.model_dump(mode="json")).encode()).hexdigest()


def evaluate(ctx: AppContext, principal: Principal, request: DeploymentRequest) -> Decision:
    """The policy decision for deploying this request now (live signals)."""
    inp = DecisionInput(
        operation="deploy",
        environment=request.environment,
        service=request.service,
        actor=principal.name,
        actor_kind=principal.kind,
        context={"release": str(request.release), "release_tag": request.release_tag},
    )
    return decisions.evaluate(ctx=ctx, inp=inp)


def release_facts(*, session: Session, service: str) -> list[ReleaseFact]:
    """What the gates need to know about this service's past deployments."""
    rows = session.exec(
        select(Deployment).where(
            Deployment.service == service,
            col(Deployment.status).in_(("succeeded", "failed", "rolled_back")),
        )
    ).all()
    return [
        ReleaseFact(
            service=r.service,
            environment=Environment.parse(r.environment),
            release=Release.parse(r.release),
            status=r.status,
            finished_at=r.finished_at,
            healthy_since=r.healthy_since,
            healthy_until=r.healthy_until,
        )
        for r in rows
    ]


def _gate_context(
    ctx: AppContext, session: Session, request: DeploymentRequest, decision: Decision
) -> GateContext:
    settings = ctx.settings
    now = ctx.clock.now()
    return GateContext(
        request=request,
        now=now,
        freeze_windows=load_freezes(settings.freeze_file, now),
        decision=decision,
        history=release_facts(session=session, service=request.service),
        soak={
            Environment.DEV: timedelta(0),
            Environment.STAGING: timedelta(minutes=settings.soak_staging_minutes),
            Environment.PRODUCTION: timedelta(minutes=settings.soak_production_minutes),
        },
    )


def request_deployment(
    *, session: Session, ctx: AppContext, principal: Principal, request: DeploymentRequest
) -> Deployment:
    """Gate a deployment request: refuse it, queue it for approval, or mark it ready to run."""
    if request.service not in KNOWN_SERVICES:
        raise InvalidSpec(
            f"unknown service {request.service!r}",
            {"field": "service", "reason": f"expected one of {', '.join(KNOWN_SERVICES)}"},
        )
    ctx.check_release(str(request.release))
    decision = evaluate(ctx, principal, request)
    report = gates.evaluate(_gate_context(ctx, session, request, decision))
    status = {"refused": "blocked", "approval_required": "pending_approval", "execute": "approved"}
    dep = Deployment(
        id=uuid.uuid4().hex,
        service=request.service,
        environment=request.environment.value,
        release=str(request.release),
        release_tag=request.release_tag,
        commit_sha=request.commit_sha,
        commit_time=request.commit_time,
        request=request.model_dump(mode="json"),
        request_hash=request_hash(request),
        requested_by=principal.name,
        requested_kind=principal.kind,
        status=status[report.outcome],
        mode=decision.final_mode,
        decision_id=decision.decision_id,
        decision=decision.model_dump(mode="json"),
        gates=[r.model_dump(mode="json") for r in report.results],
        created_at=ctx.clock.now(),
    )
    session.add(dep)
    session.flush()
    ctx.audit(
        session,
        principal,
        operation="deploy",
        result="rejected" if report.outcome == "refused" else "requested",
        environment=dep.environment,
        service=dep.service,
        base_mode=decision.base_mode,
        final_mode=decision.final_mode,
        signals=[s.model_dump(mode="json") for s in decision.signals],
        decision_id=decision.decision_id,
        inputs={"deployment_id": dep.id, "release": dep.release, "release_tag": dep.release_tag},
        outputs={"outcome": report.outcome, "failed_gates": report.reasons()},
    )
    if report.outcome == "approval_required":
        queue_for_approval(
            session=session, ctx=ctx, principal=principal, dep=dep, decision=decision
        )
    return dep


def queue_for_approval(
    *, session: Session, ctx: AppContext, principal: Principal, dep: Deployment, decision: Decision
) -> None:
    """Open an approval bound to this request, policy version and risk snapshot."""
    req = approvals.open_request(
        session=session,
        ctx=ctx,
        requester=principal,
        subject_kind="deployment",
        subject_id=dep.id,
        decision=decision,
        request_hash=dep.request_hash,
        summary=f"deploy {dep.release} to {dep.service}/{dep.environment}",
        explanation={
            "reasons": decision.reasons,
            "counterfactual": decision.counterfactual,
            "gates": dep.gates,
            "release": dep.release,
            "replaces": live_release(session=session, service=dep.service, env=dep.environment),
            "request_reason": dep.request.get("reason"),
            "changes": dep.request.get("changes", []),
            "commit_sha": dep.commit_sha,
        },
    )
    dep.approval_id = req.id
    dep.status = "pending_approval"
    dep.mode = decision.final_mode
    session.add(dep)
    session.flush()


def get(*, session: Session, deployment_id: str) -> Deployment:
    """One deployment or 404."""
    dep = session.get(Deployment, deployment_id)
    if dep is None:
        raise NotFound(f"deployment {deployment_id} not found")
    return dep


def to_public(*, session: Session, dep: Deployment) -> DeploymentPublic:
    """A deployment with its approval progress and a one-line message for people."""
    data: dict[str, Any] = dep.model_dump()
    if dep.approval_id:
        names = approvals.approvers(session=session, request_id=dep.approval_id)
        data["approvals"] = len(names)
    data["required_approvals"] = int(dep.decision.get("required_approvals", 0))
    data["message"] = message(dep, data.get("approvals", 0), data["required_approvals"])
    return DeploymentPublic(**data)


def message(dep: Deployment, approvals_: int, required: int) -> str:
    """What a person or agent should read first."""
    if dep.status == "pending_approval":
        reasons = [r for r in dep.decision.get("reasons", []) if "disabled" not in r]
        why = "; ".join(reasons) or dep.decision.get("counterfactual", "")
        return (
            f"{dep.mode}: pending approval {approvals_} of {required}, approval id "
            f"{dep.approval_id}" + (f", because {why}" if why else "")
        )
    if dep.status == "blocked":
        failed = [f"{g['name']}: {g['reason']}" for g in dep.gates if not g["passed"]]
        return "refused: " + "; ".join(failed)
    if dep.status == "succeeded":
        return f"{dep.release} is live and healthy in {dep.environment}"
    if dep.status in ("failed", "rolled_back"):
        return f"{dep.status}: {dep.failure_reason or ''}".strip()
    return dep.status


def list_deployments(
    *,
    session: Session,
    service: str | None,
    environment: str | None,
    status: str | None,
    limit: int,
) -> list[Deployment]:
    """Deployments, newest first."""
    query = select(Deployment)
    for column, value in (
        (Deployment.service, service),
        (Deployment.environment, environment),
        (Deployment.status, status),
    ):
        if value is not None:
            query = query.where(column == value)
    return list(session.exec(query.order_by(col(Deployment.created_at).desc()).limit(limit)).all())


def live_release(*, session: Session, service: str, env: str) -> str | None:
    """The release a new deployment would replace (None on a first deployment)."""
    current = live(session=session, service=service, environment=env)
    return current.release if current else None


def live(*, session: Session, service: str, environment: str) -> Deployment | None:
    """The deployment currently serving a target (latest success not yet replaced)."""
    return session.exec(
        select(Deployment)
        .where(
            Deployment.service == service,
            Deployment.environment == environment,
            Deployment.status == "succeeded",
            col(Deployment.healthy_until).is_(None),
        )
        .order_by(col(Deployment.finished_at).desc())
    ).first()
