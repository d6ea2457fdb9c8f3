"""Deployment use cases: gate a request, queue it for approval or mark it ready, answer queries."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from controlplane import db
from controlplane.approval import service as approvals
from controlplane.audit.recorder import Actor
from controlplane.clock import Clock
from controlplane.config import Settings
from controlplane.deploy import gates, states
from controlplane.deploy.facts import AuditTrust, GateContext, ReleaseFact, require_known_service
from controlplane.deploy.freeze import load_freezes
from controlplane.deploy.models import Deployment, DeploymentPublic
from controlplane.deploy.states import DeploymentStatus
from controlplane.errors import NotFound
from controlplane.governance.kinds import Requester
from controlplane.governance.service import Door, decision_fields, request_hash, waiting_message
from controlplane.handoff.models import DeploymentRequest
from controlplane.handoff.release import Release
from controlplane.identity.models import Principal
from controlplane.policy.models import Decision, DecisionInput, Environment
from controlplane.policy.service import Decider
from controlplane.workload.wiring import Workloads

SUBJECT = "deployment"  # the approval subject kind of deployments
RUNNABLE = "deployments"  # change topic: a deployment became approved, the worker should look


def evaluate(decider: Decider, requester: Actor, request: DeploymentRequest) -> Decision:
    """The policy decision for deploying this request now (live signals)."""
    inp = DecisionInput(
        operation="deploy",
        environment=request.environment,
        service=request.service,
        actor=requester.name,
        actor_kind=requester.kind,
        context={"release": str(request.release), "release_tag": request.release_tag},
    )
    return decider.decide(inp)


def release_facts(
    *, session: Session, service: str, release: str, environment: Environment
) -> list[ReleaseFact]:
    """What the gates need: this release's finished runs in the environment before this one."""
    rows = session.exec(
        select(Deployment).where(
            Deployment.service == service,
            Deployment.release == release,
            Deployment.environment == environment.value,
            col(Deployment.status).in_([s.value for s in states.FINISHED]),
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
    *,
    session: Session,
    clock: Clock,
    settings: Settings,
    request: DeploymentRequest,
    decision: Decision,
    trust: AuditTrust,
) -> GateContext:
    now = clock.now()
    before = {Environment.STAGING: Environment.DEV, Environment.PRODUCTION: Environment.STAGING}
    previous = before.get(request.environment)
    history = (
        release_facts(
            session=session,
            service=request.service,
            release=str(request.release),
            environment=previous,
        )
        if previous
        else []
    )
    return GateContext(
        request=request,
        now=now,
        freeze_windows=load_freezes(settings.freeze_file, now),
        decision=decision,
        history=history,
        soak={
            Environment.DEV: timedelta(0),
            Environment.STAGING: timedelta(minutes=settings.soak_staging_minutes),
            Environment.PRODUCTION: timedelta(minutes=settings.soak_production_minutes),
        },
        audit_trust=trust,
    )


def request_deployment(
    *,
    session: Session,
    door: Door,
    workloads: Workloads,
    settings: Settings,
    principal: Principal,
    request: DeploymentRequest,
) -> Deployment:
    """Gate a deployment request: refuse it, queue it for approval, or mark it ready to run."""
    require_known_service(request.service)
    trust = workloads.releases.inspect(
        str(request.release), request.service, request.security_audit
    )
    decision = evaluate(door.decider, principal, request)
    context = _gate_context(
        session=session,
        clock=door.clock,
        settings=settings,
        request=request,
        decision=decision,
        trust=trust,
    )
    report = gates.evaluate(context)
    stored = request.model_dump(mode="json")
    dep = Deployment(
        id=uuid.uuid4().hex,
        service=request.service,
        environment=request.environment.value,
        release=str(request.release),
        release_tag=request.release_tag,
        commit_sha=request.commit_sha,
        commit_time=request.commit_time,
        request=stored,
        request_hash=request_hash(stored),
        requested_by=principal.name,
        requested_kind=principal.kind,
        status=states.initial(report.outcome).value,
        mode=decision.final_mode,
        decision_id=decision.decision_id,
        decision=decision.model_dump(mode="json"),
        gates=[r.model_dump(mode="json") for r in report.results],
        created_at=door.clock.now(),
    )
    session.add(dep)
    session.flush()
    door.audit.record(
        session,
        principal,
        operation="deploy",
        result="rejected" if report.outcome == "refused" else "requested",
        inputs={"deployment_id": dep.id, "release": dep.release, "release_tag": dep.release_tag},
        outputs={"outcome": report.outcome, "failed_gates": report.reasons()},
        **decision_fields(decision),
    )
    if report.outcome == "approval_required":
        approval = door.open_approval(
            session=session,
            requester=principal,
            subject_kind=SUBJECT,
            subject_id=dep.id,
            decision=decision,
            request_hash=dep.request_hash,
            summary=summary(dep),
            explanation=explanation(session, dep, decision),
        )
        dep.approval_id = approval.id
        session.add(dep)
        session.flush()
    if dep.status == DeploymentStatus.APPROVED:
        mark_runnable(session)
    return dep


def mark_runnable(session: Session) -> None:
    """Wake the deployment workers (this replica's and, on PostgreSQL, the others') on commit."""
    db.mark_changed(session, RUNNABLE)


def summary(dep: Deployment) -> str:
    """One line for reviewers."""
    return f"deploy {dep.release} to {dep.service}/{dep.environment}"


def explanation(session: Session, dep: Deployment, decision: Decision) -> dict[str, Any]:
    """What a reviewer sees next to the approval: why, the gates, what is replaced."""
    return {
        "reasons": decision.reasons,
        "counterfactual": decision.counterfactual,
        "gates": dep.gates,
        "release": dep.release,
        "replaces": live_release(session=session, service=dep.service, env=dep.environment),
        "request_reason": dep.request.get("reason"),
        "changes": dep.request.get("changes", []),
        "commit_sha": dep.commit_sha,
    }


def requester_of(dep: Deployment) -> Requester:
    """Who asked for a deployment."""
    return Requester(dep.requested_by, dep.requested_kind)


def wait_again(dep: Deployment, decision: Decision, approval_id: str) -> None:
    """Approvals were voided by a stricter mode: the deployment waits for the new request."""
    states.move(dep, DeploymentStatus.PENDING_APPROVAL)
    dep.approval_id = approval_id
    dep.mode = decision.final_mode
    dep.decision = decision.model_dump(mode="json")
    dep.decision_id = decision.decision_id


def get(*, session: Session, deployment_id: str) -> Deployment:
    """One deployment or 404."""
    dep = session.get(Deployment, deployment_id)
    if dep is None:
        raise NotFound(f"deployment {deployment_id} not found")
    return dep


def to_public(dep: Deployment, approvals_: int) -> DeploymentPublic:
    """A deployment with its approval progress and a one-line message for people."""
    data: dict[str, Any] = dep.model_dump()
    data["approvals"] = approvals_
    data["required_approvals"] = int(dep.decision.get("required_approvals", 0))
    data["message"] = message(dep, approvals_, data["required_approvals"])
    return DeploymentPublic(**data)


def show(*, session: Session, dep: Deployment) -> DeploymentPublic:
    """One deployment as the API shows it."""
    count = (
        len(approvals.approvers(session=session, request_id=dep.approval_id))
        if (dep.approval_id)
        else 0
    )
    return to_public(dep, count)


def show_many(*, session: Session, deps: list[Deployment]) -> list[DeploymentPublic]:
    """Several deployments with their approval counts, in one votes query."""
    votes = approvals.votes_of(session=session, ids=[d.approval_id for d in deps if d.approval_id])
    return [
        to_public(d, sum(v.verdict == "approve" for v in votes.get(d.approval_id or "", [])))
        for d in deps
    ]


def message(dep: Deployment, approvals_: int, required: int) -> str:
    """What a person or agent should read first."""
    if dep.status == DeploymentStatus.PENDING_APPROVAL:
        return waiting_message(dep.mode, approvals_, required, dep.approval_id, dep.decision)
    if dep.status == DeploymentStatus.BLOCKED:
        failed = [f"{g['name']}: {g['reason']}" for g in dep.gates if not g["passed"]]
        return "refused: " + "; ".join(failed)
    if dep.status == DeploymentStatus.SUCCEEDED:
        return f"{dep.release} is live and healthy in {dep.environment}"
    if dep.status in (DeploymentStatus.FAILED, DeploymentStatus.ROLLED_BACK):
        return f"{dep.status}: {dep.failure_reason or ''}".strip()
    if dep.status == DeploymentStatus.APPROVED:
        return "approved; the plane's worker starts it in a moment"
    if dep.status == DeploymentStatus.EXECUTING:
        return f"executing: {dep.step or 'rolling out'}"
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
            Deployment.status == DeploymentStatus.SUCCEEDED.value,
            col(Deployment.healthy_until).is_(None),
        )
        .order_by(col(Deployment.finished_at).desc())
    ).first()


def record_rollback(
    *,
    session: Session,
    clock: Clock,
    service: str,
    environment: str,
    release: str,
    requested_by: str,
    requested_kind: str,
    reason: str,
    key: str,
) -> Deployment:
    """Record that a rollback put `release` back (once per idempotency key): the release it
    replaced stops being live, and DORA tells it from a deployment by `kind`."""
    row_id = hashlib.sha256(key.encode()).hexdigest()[:32]
    done = session.get(Deployment, row_id)
    if done is not None:
        return done
    now = clock.now()
    current = live(session=session, service=service, environment=environment)
    if current is not None:
        current.healthy_until = now
        session.add(current)
    request = {"rollback": True, "reason": reason[:500], "key": key}
    row = Deployment(
        id=row_id,
        service=service,
        environment=environment,
        release=release,
        kind="rollback",
        request=request,
        request_hash=hashlib.sha256(key.encode()).hexdigest(),
        requested_by=requested_by,
        requested_kind=requested_kind,
        status=DeploymentStatus.SUCCEEDED.value,
        previous_release=current.release if current else None,
        executed_by=requested_by,
        created_at=now,
        started_at=now,
        finished_at=now,
        healthy_since=now,
    )
    session.add(row)
    session.flush()
    return row
