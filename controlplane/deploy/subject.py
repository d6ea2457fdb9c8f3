"""Deployments as a subject of the door: what happens to one when its approval is decided."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from controlplane.deploy import service as deployments
from controlplane.deploy import states
from controlplane.deploy.states import DeploymentStatus
from controlplane.identity.models import Principal


@dataclass(frozen=True)
class DeploymentSubject:
    """Hands an approved deployment to the worker, which re-checks it when it executes."""

    def approved(self, session: Session, subject_id: str, actor: Principal) -> None:
        """Approved: runnable once this transaction commits (the rollout takes seconds)."""
        dep = deployments.get(session=session, deployment_id=subject_id)
        states.move(dep, DeploymentStatus.APPROVED)
        session.add(dep)
        deployments.mark_runnable(session)

    def closed(self, session: Session, subject_id: str, status: str, reason: str) -> None:
        """Rejected or expired: the deployment ends with the same status."""
        dep = deployments.get(session=session, deployment_id=subject_id)
        states.move(dep, DeploymentStatus(status))
        session.add(dep)
