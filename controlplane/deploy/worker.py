"""Runs approved deployments off the request: the API answers at once, a worker rolls out.

Woken when a request or a quorum makes a deployment runnable, and every `poll_s` for work that
another replica, or a plane that stopped, left approved. The executor's claim (a conditional
UPDATE) keeps each deployment to one run across threads and replicas.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from controlplane.deploy.executor import Executor
from controlplane.deploy.models import Deployment
from controlplane.deploy.states import DeploymentStatus
from controlplane.polling import PollingPool


class DeploymentWorker:
    """Finds approved deployments and runs each once, several targets at a time."""

    def __init__(self, executor: Executor, *, poll_s: float = 2.0, parallel: int = 4) -> None:
        self.executor = executor
        self._pool = PollingPool(
            name="rollout", find=self._approved_ids, work=self._execute, poll_s=poll_s,
            parallel=parallel,
        )  # fmt: skip

    @property
    def poll_s(self) -> float:
        """Seconds between passes when nothing kicks the worker."""
        return self._pool.poll_s

    def start(self) -> None:
        """Begin watching (idempotent); the first pass runs what a stopped plane left approved."""
        self._pool.start()

    def kick(self) -> None:
        """Something became runnable: look now rather than at the next poll."""
        self._pool.kick()

    def stop(self, *, timeout_s: float = 0.5) -> None:
        """Stop looking for work; rollouts in flight end with the plane (recovery fails them)."""
        self._pool.stop(timeout_s=timeout_s)

    def run_pending(self) -> list[str]:
        """Start every approved deployment not already running here; return their ids."""
        return self._pool.run_pending()

    def _approved_ids(self) -> list[str]:
        with Session(self.executor.engine) as session:
            rows = session.exec(
                select(Deployment.id)
                .where(Deployment.status == DeploymentStatus.APPROVED.value)
                .order_by(col(Deployment.created_at))
            ).all()
        return list(rows)

    def _execute(self, deployment_id: str) -> None:
        self.executor.execute(deployment_id=deployment_id)
