"""Run an approved deployment once: re-check through the door, claim, roll out, verify, restore."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controlplane import db
from controlplane.adapters.base import RolloutResult, Target
from controlplane.approval import service as approvals
from controlplane.audit.redact import redact, redact_text
from controlplane.deploy import service as deployments
from controlplane.deploy import states
from controlplane.deploy.models import Deployment
from controlplane.deploy.states import DeploymentStatus
from controlplane.governance.service import Door, request_hash
from controlplane.handoff.models import DeploymentRequest
from controlplane.identity.models import SYSTEM, Principal
from controlplane.workload.wiring import Workloads

log = logging.getLogger(__name__)
STALE_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class Executor:
    """What running a deployment touches: its own sessions, the door, the workloads."""

    engine: Engine
    door: Door
    workloads: Workloads

    def execute(self, *, deployment_id: str, actor: Principal = SYSTEM) -> Deployment:
        """Execute if still approved and not stricter now; else leave it waiting (idempotent)."""
        with Session(self.engine, expire_on_commit=False) as session:
            dep = deployments.get(session=session, deployment_id=deployment_id)
            if dep.status != DeploymentStatus.APPROVED:
                return dep
            if self._waits_again(session, dep, actor):
                session.commit()
                return dep
            now = self.door.clock.now()
            if not states.claim(session, dep, by=actor.name, at=now):
                session.rollback()
                return deployments.get(session=session, deployment_id=deployment_id)
            previous = deployments.live(
                session=session, service=dep.service, environment=dep.environment
            )
            dep.previous_release = previous.release if previous else None
            session.add(dep)
            session.commit()
        result, health = self._roll_out(dep, dep.previous_release)
        with Session(self.engine, expire_on_commit=False) as session:
            dep = deployments.get(session=session, deployment_id=deployment_id)
            self._finish(session, dep, previous, result, health, actor)
            session.commit()
        return dep

    def _step(self, deployment_id: str, step: str) -> None:
        """Say what an executing rollout does now (followers poll it); best effort."""
        try:
            with Session(self.engine) as session:
                states.set_step(session, deployment_id, step, at=self.door.clock.now())
                session.commit()
        except Exception as exc:  # progress is news, never a reason to fail a rollout
            log.warning("could not record step of %s: %s", deployment_id, exc.__class__.__name__)

    def _waits_again(self, session: Session, dep: Deployment, actor: Principal) -> bool:
        """Re-decide now; a stricter mode (or a changed request) waits for humans again."""
        request = DeploymentRequest.model_validate(dep.request)
        requester = deployments.requester_of(dep)
        decision = deployments.evaluate(self.door.decider, requester, request)
        approval = (
            approvals.get_for_update(session=session, request_id=dep.approval_id)
            if dep.approval_id
            else None
        )
        reopened = self.door.recheck(
            session=session,
            subject_kind=deployments.SUBJECT,
            subject_id=dep.id,
            approval=approval,
            approved_mode=dep.mode or "AUTO",
            decision=decision,
            current_hash=request_hash(dep.request),
            requester=requester,
            summary=deployments.summary(dep),
            explanation=deployments.explanation(session, dep, decision),
            by=actor,
        )
        if reopened is None:
            return False
        deployments.wait_again(dep, decision, reopened.id)
        session.add(dep)
        return True

    def _roll_out(
        self, dep: Deployment, previous_ref: str | None
    ) -> tuple[RolloutResult, dict[str, object]]:
        """Deploy through the workload backend and verify health; restore on a failed check."""
        target = Target(dep.service, dep.environment)
        backend, releases = self.workloads.backend, self.workloads.releases
        self._step(dep.id, f"starting {dep.release} beside what serves, waiting for /ready")
        try:
            result = backend.deploy(target, releases.resolve(dep.release))
        except Exception as exc:  # the backend failed outright: record it, never leave "executing"
            log.error("rollout of %s raised %s", dep.id, exc.__class__.__name__)
            result = RolloutResult(
                False, target, None, previous_ref, reason=f"{exc.__class__.__name__}: {exc}"
            )
        if not result.ok:
            return result, {"verified": False, "reason": result.reason}
        self._step(dep.id, f"checking health at {result.url}")
        try:
            health = self.workloads.health(result.url or "")
        except Exception as exc:  # a check that cannot run is a failed check, never "executing"
            health = {"healthy": False, "reason": f"health check raised {exc!r}"}
        if health.get("healthy"):
            return result, health
        if previous_ref is not None:
            self._step(dep.id, f"health check failed; restoring {previous_ref}")
            try:
                restored = backend.restore(target, releases.resolve(previous_ref))
                health["restored"], health["restore_reason"] = restored.ok, restored.reason
            except Exception as exc:
                health["restored"], health["restore_reason"] = False, repr(exc)
        return result, health

    def _finish(
        self,
        session: Session,
        dep: Deployment,
        previous: Deployment | None,
        result: RolloutResult,
        health: dict[str, object],
        actor: Principal,
    ) -> None:
        """Record the outcome; a success retires the previous live release."""
        now = self.door.clock.now()
        dep.finished_at = now
        dep.health = dict(health)
        dep.step, dep.step_at = None, None
        if result.ok and health.get("healthy"):
            states.move(dep, DeploymentStatus.SUCCEEDED)
            dep.healthy_since = now
            prev = session.get(Deployment, previous.id) if previous is not None else None
            if prev is not None:
                prev.healthy_until = now
                session.add(prev)
        elif result.ok:
            restored = bool(health.get("restored"))
            states.move(dep, DeploymentStatus.ROLLED_BACK if restored else DeploymentStatus.FAILED)
            dep.cause = failure_cause(result, health, "health")
            dep.failure_reason = _reason(
                f"health check failed: {health.get('reason', 'unhealthy')}"
            )
        else:
            states.move(dep, DeploymentStatus.FAILED)
            dep.cause = failure_cause(result, health, "rollout")
            dep.failure_reason = _reason(
                f"rollout failed, previous release kept serving: {result.reason}"
            )
        session.add(dep)
        self._record(session, dep, result, actor)

    def _record(
        self, session: Session, dep: Deployment, result: RolloutResult, actor: Principal
    ) -> None:
        names = (
            approvals.approvers(session=session, request_id=dep.approval_id)
            if dep.approval_id
            else []
        )
        audit = self.door.audit
        audit.record(
            session,
            actor,
            operation="deploy.execute",
            result="success" if dep.status == DeploymentStatus.SUCCEEDED else "failure",
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
                "cause": dep.cause,
                "duration_s": round(result.duration_s, 3),
            },
        )
        if dep.status == DeploymentStatus.ROLLED_BACK:
            audit.record(
                session,
                actor,
                operation="rollback.auto",
                result="success",
                environment=dep.environment,
                service=dep.service,
                inputs={"deployment_id": dep.id, "failed_release": dep.release},
                outputs={"restored_release": dep.previous_release},
            )
            db.mark_changed(session, "signals")  # recent_rollback reads the audit log

    def recover_interrupted(self, *, stale_after: timedelta = STALE_AFTER) -> list[str]:
        """Fail deployments a stopped plane left `executing` (long past any rollout timeout)."""
        clock = self.door.clock
        cutoff = clock.now() - stale_after
        with Session(self.engine, expire_on_commit=False) as session:
            stuck = session.exec(
                select(Deployment).where(
                    Deployment.status == DeploymentStatus.EXECUTING.value,
                    col(Deployment.started_at) < cutoff,
                )
            ).all()
            for dep in stuck:
                states.move(dep, DeploymentStatus.FAILED)
                dep.finished_at = clock.now()
                dep.step, dep.step_at = None, None
                dep.failure_reason = (
                    "the plane stopped during this rollout; check `opsctl services` for what serves"
                )
                session.add(dep)
                self.door.audit.record(
                    session, SYSTEM, operation="deploy.execute", result="failure",
                    environment=dep.environment, service=dep.service, final_mode=dep.mode,
                    decision_id=dep.decision_id,
                    inputs={"deployment_id": dep.id, "release": dep.release},
                    outputs={"status": dep.status, "reason": dep.failure_reason},
                )  # fmt: skip
            session.commit()
        for dep in stuck:
            log.warning("deployment %s was left executing; marked failed", dep.id)
        return [dep.id for dep in stuck]


def failure_cause(result: RolloutResult, health: dict[str, object], stage: str) -> dict[str, Any]:
    """Why a rollout failed, as people look for it: the figures and the process's last lines."""
    figures = ("ready", "error_rate", "requests", "errors", "window_s", "max_error_rate")
    cause: dict[str, Any] = {"stage": stage, "reason": result.reason or health.get("reason")}
    cause.update({k: health[k] for k in figures if k in health})
    for key in ("log", "log_tail"):
        if result.details.get(key):
            cause[key] = result.details[key]
    return dict(redact(cause))  # process logs may print secrets; none is stored


def _reason(headline: str) -> str:
    """A failure reason as stored: the backend's reason quotes the process's log, so it is
    redacted like the cause, and cut to the column's size."""
    return redact_text(headline)[:2000]
