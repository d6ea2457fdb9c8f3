"""Run an approved deployment once: re-check the policy, claim, roll out, verify, restore."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlmodel import Session, col, select

from controlplane.adapters.base import RolloutResult, Target
from controlplane.approval import rules
from controlplane.approval import service as approvals
from controlplane.deploy import service as deployments
from controlplane.deploy.models import Deployment
from controlplane.handoff.models import DeploymentRequest
from controlplane.identity.models import Principal

if TYPE_CHECKING:
    from controlplane.context import AppContext

log = logging.getLogger(__name__)
_TABLE = Deployment.__table__  # type: ignore[attr-defined]


def execute(*, ctx: AppContext, deployment_id: str, actor: Principal) -> Deployment:
    """Execute if still approved and not stricter now; otherwise leave it waiting (idempotent)."""
    with Session(ctx.engine, expire_on_commit=False) as session:
        dep = deployments.get(session=session, deployment_id=deployment_id)
        if dep.status != "approved":
            return dep
        if _voided_by_stricter_mode(session, ctx, dep, actor):
            session.commit()
            return dep
        if not _claim(session, ctx, dep, actor):
            session.rollback()
            return deployments.get(session=session, deployment_id=deployment_id)
        previous = deployments.live(
            session=session, service=dep.service, environment=dep.environment
        )
        dep.previous_release = previous.release if previous else None
        session.add(dep)
        session.commit()
    result, health = _roll_out(ctx, dep, dep.previous_release)
    with Session(ctx.engine, expire_on_commit=False) as session:
        dep = deployments.get(session=session, deployment_id=deployment_id)
        _finish(session, ctx, dep, previous, result, health, actor)
        session.commit()
    return dep


def _voided_by_stricter_mode(
    session: Session, ctx: AppContext, dep: Deployment, actor: Principal
) -> bool:
    """Re-evaluate now; if the mode is stricter than what was approved, wait for humans again."""
    request = DeploymentRequest.model_validate(dep.request)
    requester = Principal("", dep.requested_by, dep.requested_kind, frozenset({"operator"}))
    decision = deployments.evaluate(ctx, requester, request)
    if not rules.is_stricter(decision.final_mode, dep.mode or "AUTO"):
        return False
    if dep.approval_id:
        old = approvals.get_for_update(session=session, request_id=dep.approval_id)
        approvals.close(
            session=session,
            ctx=ctx,
            req=old,
            status="voided",
            reason=f"mode is now {decision.final_mode} (was {dep.mode}): "
            + "; ".join(decision.reasons[1:]),
            by=actor,
        )
    deployments.queue_for_approval(
        session=session, ctx=ctx, principal=requester, dep=dep, decision=decision
    )
    dep.decision = decision.model_dump(mode="json")
    dep.decision_id = decision.decision_id
    session.add(dep)
    return True


def _claim(session: Session, ctx: AppContext, dep: Deployment, actor: Principal) -> bool:
    """Atomically move approved -> executing; only one replica can win."""
    claimed = session.connection().execute(
        update(_TABLE)
        .where(_TABLE.c.id == dep.id, _TABLE.c.status == "approved")
        .values(status="executing", started_at=ctx.clock.now(), executed_by=actor.name)
    )
    if claimed.rowcount != 1:
        return False
    session.refresh(dep)
    return True


def _roll_out(
    ctx: AppContext, dep: Deployment, previous_ref: str | None
) -> tuple[RolloutResult, dict[str, object]]:
    """Deploy through the workload backend and verify health; restore on a failed check."""
    target = Target(dep.service, dep.environment)
    try:
        result = ctx.workloads.deploy(target, ctx.resolve_release(dep.release))
    except Exception as exc:  # the backend failed outright: record it, never leave "executing"
        log.error("rollout of %s raised %s", dep.id, exc.__class__.__name__)
        result = RolloutResult(
            False, target, None, previous_ref, reason=f"{exc.__class__.__name__}: {exc}"
        )
    if not result.ok:
        return result, {"verified": False, "reason": result.reason}
    health = ctx.verify_health(result.url or "")
    if health.get("healthy"):
        return result, health
    if previous_ref is not None:
        restored = ctx.workloads.restore(target, ctx.resolve_release(previous_ref))
        health["restored"] = restored.ok
        health["restore_reason"] = restored.reason
    return result, health


def _finish(
    session: Session,
    ctx: AppContext,
    dep: Deployment,
    previous: Deployment | None,
    result: RolloutResult,
    health: dict[str, object],
    actor: Principal,
) -> None:
    """Record the outcome; a success retires the previous live release."""
    now = ctx.clock.now()
    dep.finished_at = now
    dep.health = dict(health)
    if result.ok and health.get("healthy"):
        dep.status = "succeeded"
        dep.healthy_since = now
        if previous is not None:
            prev = session.get(Deployment, previous.id)
            if prev is not None:
                prev.healthy_until = now
                session.add(prev)
    elif result.ok:
        dep.status = "rolled_back" if health.get("restored") else "failed"
        dep.failure_reason = f"health check failed: {health.get('reason', 'unhealthy')}"
    else:
        dep.status = "failed"
        dep.failure_reason = f"rollout failed, previous release kept serving: {result.reason}"
    session.add(dep)
    names = (
        approvals.approvers(session=session, request_id=dep.approval_id) if dep.approval_id else []
    )
    ctx.audit(
        session,
        actor,
        operation="deploy.execute",
        result="success" if dep.status == "succeeded" else "failure",
        environment=dep.environment,
        service=dep.service,
        final_mode=dep.mode,
        decision_id=dep.decision_id,
        approvers=names,
        inputs={"deployment_id": dep.id, "release": dep.release},
        outputs={
            "status": dep.status,
            "previous_release": dep.previous_release,
            "health": dep.health,
            "duration_s": round(result.duration_s, 3),
        },
    )
    if dep.status == "rolled_back":
        ctx.audit(
            session,
            actor,
            operation="rollback.auto",
            result="success",
            environment=dep.environment,
            service=dep.service,
            inputs={"deployment_id": dep.id, "failed_release": dep.release},
            outputs={"restored_release": dep.previous_release},
        )


SYSTEM = Principal("system", "controlplane", "service", frozenset({"operator"}))
STALE_AFTER = timedelta(minutes=10)


def recover_interrupted(*, ctx: AppContext, stale_after: timedelta = STALE_AFTER) -> list[str]:
    """Fail deployments a stopped plane left `executing` (long past any rollout timeout)."""
    cutoff = ctx.clock.now() - stale_after
    with Session(ctx.engine, expire_on_commit=False) as session:
        stuck = session.exec(
            select(Deployment).where(
                Deployment.status == "executing", col(Deployment.started_at) < cutoff
            )
        ).all()
        for dep in stuck:
            dep.status = "failed"
            dep.finished_at = ctx.clock.now()
            dep.failure_reason = (
                "the plane stopped during this rollout; check `opsctl services` for what serves"
            )
            session.add(dep)
            ctx.audit(
                session, SYSTEM, operation="deploy.execute", result="failure",
                environment=dep.environment, service=dep.service, final_mode=dep.mode,
                decision_id=dep.decision_id,
                inputs={"deployment_id": dep.id, "release": dep.release},
                outputs={"status": "failed", "reason": dep.failure_reason},
            )  # fmt: skip
        session.commit()
    for dep in stuck:
        log.warning("deployment %s was left executing; marked failed", dep.id)
    return [dep.id for dep in stuck]
