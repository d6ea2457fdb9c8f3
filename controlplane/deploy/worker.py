"""Runs approved deployments off the request: the API answers at once, a worker rolls out.

Woken when a request or a quorum makes a deployment runnable, and every `poll_s` for work that
another replica, or a plane that stopped, left approved. The executor's claim (a conditional
UPDATE) keeps each deployment to one run across threads and replicas.
"""

from __future__ import annotations

import functools
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from sqlmodel import Session, col, select

from controlplane.deploy.executor import Executor
from controlplane.deploy.models import Deployment
from controlplane.deploy.states import DeploymentStatus

log = logging.getLogger(__name__)


class DeploymentWorker:
    """A thread that finds approved deployments and runs each once, several targets at a time."""

    def __init__(self, executor: Executor, *, poll_s: float = 2.0, parallel: int = 4) -> None:
        self.executor = executor
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="rollout")
        self._running: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin watching (idempotent); the first pass runs what a stopped plane left approved."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="deploy-worker", daemon=True)
            self._thread.start()

    def kick(self) -> None:
        """Something became runnable: look now rather than at the next poll."""
        self._wake.set()

    def stop(self, *, timeout_s: float = 0.5) -> None:
        """Stop looking for work; rollouts in flight end with the plane (recovery fails them)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def run_pending(self) -> list[str]:
        """Start every approved deployment not already running here; return their ids."""
        started = []
        for deployment_id in self._approved_ids():
            with self._lock:
                if deployment_id in self._running or self._stopping.is_set():
                    continue
                future = self._pool.submit(self._execute, deployment_id)
                self._running[deployment_id] = future
            future.add_done_callback(functools.partial(self._done, deployment_id))
            started.append(deployment_id)
        return started

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self.run_pending()
            except Exception as exc:  # a database hiccup: try again at the next poll
                log.warning("deployment worker pass failed: %s", exc.__class__.__name__)
            self._wake.wait(self.poll_s)

    def _approved_ids(self) -> list[str]:
        with Session(self.executor.engine) as session:
            rows = session.exec(
                select(Deployment.id)
                .where(Deployment.status == DeploymentStatus.APPROVED.value)
                .order_by(col(Deployment.created_at))
            ).all()
        return list(rows)

    def _execute(self, deployment_id: str) -> None:
        try:
            self.executor.execute(deployment_id=deployment_id)
        except Exception:
            log.exception("deployment %s could not be executed", deployment_id)

    def _done(self, deployment_id: str, _: Future[None]) -> None:
        with self._lock:
            self._running.pop(deployment_id, None)
        self._wake.set()  # a finished rollout may have been holding a target another waits for
