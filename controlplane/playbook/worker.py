"""Runs playbook runs off the request: finds runnable ones, takes their lease, advances them.

Woken when a run is started, approved, cancelled or resumed (here, and from other replicas via
PostgreSQL NOTIFY), and every `poll_s` for runs whose wait is over or whose replica died (an
expired lease). A heartbeat keeps the leases of runs in flight here.
"""

from __future__ import annotations

import logging

from sqlmodel import Session, and_, col, or_, select

from controlplane.playbook.models import PlaybookRun, PlaybookStep
from controlplane.playbook.runner import Runner
from controlplane.playbook.states import RunStatus, StepStatus
from controlplane.polling import PollingPool

log = logging.getLogger(__name__)
LIVE = (RunStatus.QUEUED.value, RunStatus.RUNNING.value, RunStatus.WAITING.value)


class RunWorker:
    """Advances runnable runs, each under its lease, several at a time."""

    def __init__(self, runner: Runner, *, poll_s: float = 2.0, parallel: int = 4) -> None:
        self.runner = runner
        self._pool = PollingPool(
            name="run", find=self._runnable, work=self.runner.advance, poll_s=poll_s,
            parallel=parallel,
        )  # fmt: skip

    @property
    def poll_s(self) -> float:
        """Seconds between passes when nothing kicks the worker."""
        return self._pool.poll_s

    def start(self) -> None:
        """Begin watching (idempotent): reconcile what a stopped plane left, then loop."""
        self._pool.start(("run-lease", self._heartbeat))

    def kick(self) -> None:
        """Something became runnable: look now rather than at the next poll."""
        self._pool.kick()

    def stop(self, *, timeout_s: float = 0.5) -> None:
        """Stop taking work; steps in flight end with the plane (a replica resumes them)."""
        self._pool.stop(timeout_s=timeout_s)

    def run_pending(self) -> list[str]:
        """Start advancing every runnable run not already in flight here; return their ids."""
        return self._pool.run_pending()

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

    def _heartbeat(self) -> None:
        while not self._pool.stopping(self.runner.lease_s / 3):
            try:
                self.runner.renew(self._pool.in_flight())
            except Exception as exc:  # a missed renewal costs a takeover at worst (at least once)
                log.warning("could not renew run leases: %s", exc.__class__.__name__)
