"""Runs playbook runs off the request: finds runnable ones, takes their lease, advances them.

Woken when a run is started, approved, cancelled or resumed (here, and from other replicas via
PostgreSQL NOTIFY), and every `poll_s` for runs whose wait is over or whose replica died (an
expired lease). A heartbeat keeps the leases of runs in flight here.
"""

from __future__ import annotations

import functools
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from sqlmodel import Session, and_, col, or_, select

from controlplane.playbook.models import PlaybookRun, PlaybookStep
from controlplane.playbook.runner import Runner
from controlplane.playbook.states import RunStatus, StepStatus

log = logging.getLogger(__name__)
LIVE = (RunStatus.QUEUED.value, RunStatus.RUNNING.value, RunStatus.WAITING.value)


class RunWorker:
    """A thread that advances runnable runs, each under its lease, several at a time."""

    def __init__(self, runner: Runner, *, poll_s: float = 2.0, parallel: int = 4) -> None:
        self.runner = runner
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="run")
        self._running: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Begin watching (idempotent): reconcile what a stopped plane left, then loop."""
        if self._threads:
            return
        for name, target in (("run-worker", self._loop), ("run-lease", self._heartbeat)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def kick(self) -> None:
        """Something became runnable: look now rather than at the next poll."""
        self._wake.set()

    def stop(self, *, timeout_s: float = 0.5) -> None:
        """Stop taking work; steps in flight end with the plane (a replica resumes them)."""
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=timeout_s)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def run_pending(self) -> list[str]:
        """Start advancing every runnable run not already in flight here; return their ids."""
        started = []
        for run_id in self._runnable():
            with self._lock:
                if run_id in self._running or self._stopping.is_set():
                    continue
                future = self._pool.submit(self._advance, run_id)
                self._running[run_id] = future
            future.add_done_callback(functools.partial(self._done, run_id))
            started.append(run_id)
        return started

    def _runnable(self) -> list[str]:
        now = self.runner.clock.now()
        free = or_(
            col(PlaybookRun.lease_owner).is_(None),
            col(PlaybookRun.lease_until) < now,
            PlaybookRun.lease_owner == self.runner.owner,
        )
        due = or_(
            col(PlaybookRun.status).in_((RunStatus.QUEUED.value, RunStatus.RUNNING.value)),
            and_(
                col(PlaybookRun.status) == RunStatus.WAITING.value,
                col(PlaybookRun.next_check_at) <= now,
            ),
            and_(
                col(PlaybookRun.cancel_requested),
                col(PlaybookRun.status).notin_(
                    (RunStatus.SUCCEEDED.value, RunStatus.CANCELLED.value)
                ),
            ),
            and_(
                col(PlaybookRun.status) == RunStatus.PAUSED.value,
                col(PlaybookRun.id).in_(
                    select(PlaybookStep.run_id).where(
                        col(PlaybookStep.status).in_(
                            (StepStatus.REJECTED.value, StepStatus.APPROVED.value)
                        )
                    )
                ),
            ),
        )
        with Session(self.runner.engine) as session:
            rows = session.exec(
                select(PlaybookRun.id)
                .where(due, free)
                .order_by(col(PlaybookRun.created_at))
                .limit(50)
            ).all()
        return list(rows)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self.run_pending()
            except Exception as exc:  # a database hiccup: try again at the next poll
                log.warning("run worker pass failed: %s", exc.__class__.__name__)
            self._wake.wait(self.poll_s)

    def _heartbeat(self) -> None:
        while not self._stopping.wait(self.runner.lease_s / 3):
            with self._lock:
                ids = list(self._running)
            try:
                self.runner.renew(ids)
            except Exception as exc:  # a missed renewal costs a takeover at worst (at least once)
                log.warning("could not renew run leases: %s", exc.__class__.__name__)

    def _advance(self, run_id: str) -> None:
        try:
            self.runner.advance(run_id)
        except Exception:
            log.exception("run %s could not be advanced", run_id)

    def _done(self, run_id: str, _: Future[None]) -> None:
        with self._lock:
            self._running.pop(run_id, None)
        self._wake.set()
