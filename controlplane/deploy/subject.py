"""Deployments as a subject of the door: what happens to one when its approval is decided."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from controlplane.deploy import service as deployments
from controlplane.deploy import states
from controlplane.deploy.executor import Executor
from controlplane.deploy.states import DeploymentStatus
from controlplane.governance.kinds import FollowUp
from controlplane.identity.models import Principal


@dataclass(frozen=True)
class DeploymentSubject:
    """Runs an approved deployment after the approving commit (the executor re-checks it)."""

    executor: Executor

    def approved(self, session: Session, subject_id: str, actor: Principal) -> FollowUp | None:
        """Approved: the rollout runs after this transaction commits (it takes seconds)."""
        dep = deployments.get(session=session, deployment_id=subject_id)
        states.move(dep, DeploymentStatus.APPROVED)
        session.add(dep)

        def run() -> None:
            self.executor.execute(deployment_id=subject_id, actor=actor)

        return run

    def closed(self, session: Session, subject_id: str, status: str, reason: str) -> None:
        """Rejected or expired: the deployment ends with the same status."""
        dep = deployments.get(session=session, deployment_id=subject_id)
        states.move(dep, DeploymentStatus(status))
        session.add(dep)
