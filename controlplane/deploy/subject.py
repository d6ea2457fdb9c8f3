"""Deployments as a subject of the door: what happens to one when its approval is decided."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from controlplane.deploy import service as deployments
from controlplane.deploy import states
from controlplane.deploy.executor import Executor
from controlplane.deploy.states import DeploymentStatus
from controlplane.governance.kinds import FollowUp
from controlplane.governance.service import request_hash
from controlplane.handoff.models import DeploymentRequest
from controlplane.identity.models import Principal
from controlplane.policy.models import Decision


@dataclass(frozen=True)
class DeploymentSubject:
    """Re-decides a stored deployment request, and runs it after the approving commit."""

    executor: Executor

    def redecide(self, session: Session, subject_id: str) -> Decision:
        """The decision for deploying the stored request now."""
        dep = deployments.get(session=session, deployment_id=subject_id)
        request = DeploymentRequest.model_validate(dep.request)
        return deployments.evaluate(
            self.executor.door.decider, deployments.requester_of(dep), request
        )

    def request_hash(self, session: Session, subject_id: str) -> str:
        """sha256 of the stored request."""
        return request_hash(deployments.get(session=session, deployment_id=subject_id).request)

    def reopened(
        self, session: Session, subject_id: str, decision: Decision, approval: str
    ) -> None:
        """Voided by a stricter mode: wait for the new approval."""
        dep = deployments.get(session=session, deployment_id=subject_id)
        deployments.wait_again(dep, decision, approval)
        session.add(dep)

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
