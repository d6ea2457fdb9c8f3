"""Advance a playbook run, step by step, durably: the one place that moves runs and steps.

Each pass holds the run's lease (one replica at a time) and does one transition in one
transaction: decide a step (`gating`), claim and execute it (`execution`), record the outcome
(`outcome`) with its audit line (`journal`); a failed step's `on_failure` and a cancel unwind the
run (`compensation`). The row helpers and the names other parts share live in `rows`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session

from controlplane.governance.service import Door
from controlplane.playbook.actions.base import ActionRegistry
from controlplane.playbook.compensation import Compensator
from controlplane.playbook.execution import StepExecutor
from controlplane.playbook.gating import StepGate
from controlplane.playbook.journal import Journal, Progress
from controlplane.playbook.models import PlaybookRun, PlaybookStep
from controlplane.playbook.outcome import Outcomes
from controlplane.playbook.rows import get_run, settled, steps_of
from controlplane.playbook.spec import PlaybookSpec, StepSpec
from controlplane.playbook.states import RunStatus, StepStatus
from controlplane.policy.models import Decision

_RUNS = PlaybookRun.__table__  # type: ignore[attr-defined]


class Runner:
    """Moves runs forward; built once per plane with the door and the actions it may call."""

    def __init__(
        self,
        *,
        engine: Engine,
        door: Door,
        actions: ActionRegistry,
        tools: Any,
        owner: str,
        lease_s: float = 15.0,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.engine, self.door, self.actions, self.tools = engine, door, actions, tools
        self.owner, self.lease_s = owner, lease_s
        self.clock = door.clock
        self.audit = door.audit
        self.journal = Journal(
            clock=self.clock, audit=self.audit, on_progress=on_progress or (lambda p: None)
        )
        self.compensator = Compensator(
            decider=door.decider,
            actions=actions,
            tools=tools,
            clock=self.clock,
            audit=self.audit,
            journal=self.journal,
        )
        self.gate = StepGate(
            door=door,
            actions=actions,
            clock=self.clock,
            journal=self.journal,
            compensator=self.compensator,
        )
        self.outcomes = Outcomes(
            engine=engine,
            owner=owner,
            clock=self.clock,
            journal=self.journal,
            compensator=self.compensator,
        )
        self.executor = StepExecutor(
            engine=engine,
            actions=actions,
            tools=tools,
            owner=owner,
            clock=self.clock,
            journal=self.journal,
            gate=self.gate,
            outcomes=self.outcomes,
        )

    def decide_step(
        self,
        run: PlaybookRun,
        step: StepSpec,
        inputs: Mapping[str, Any],
        where: tuple[str | None, str | None],
    ) -> Decision:
        """The policy's answer for one step as the run's requester (a plan asks it too)."""
        with Session(self.engine) as session:
            return self.gate.decide_step(session, run, step, inputs, where)

    # -- leases ---------------------------------------------------------------------------

    def lease(self, run_id: str) -> bool:
        """Take (or renew) the run's lease; False when another live replica holds it."""
        now = self.clock.now()
        with Session(self.engine) as session:
            free = (
                _RUNS.c.lease_owner.is_(None)
                | (_RUNS.c.lease_until < now)
                | (_RUNS.c.lease_owner == self.owner)
            )
            taken = session.connection().execute(
                update(_RUNS)
                .where(_RUNS.c.id == run_id, free)
                .values(lease_owner=self.owner, lease_until=now + timedelta(seconds=self.lease_s))
            )
            session.commit()
            return bool(taken.rowcount == 1)

    def renew(self, run_ids: list[str]) -> None:
        """Keep leases of runs this replica is advancing (a step may take minutes)."""
        if not run_ids:
            return
        until = self.clock.now() + timedelta(seconds=self.lease_s)
        with Session(self.engine) as session:
            session.connection().execute(
                update(_RUNS)
                .where(_RUNS.c.id.in_(run_ids), _RUNS.c.lease_owner == self.owner)
                .values(lease_until=until)
            )
            session.commit()

    def release(self, run_id: str) -> None:
        """Give the lease back so any replica may continue the run later."""
        with Session(self.engine) as session:
            session.connection().execute(
                update(_RUNS)
                .where(_RUNS.c.id == run_id, _RUNS.c.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
            )
            session.commit()

    # -- advancing ------------------------------------------------------------------------

    def advance(self, run_id: str, *, max_passes: int = 200) -> None:
        """Move the run as far as it goes now, under its lease; then release the lease."""
        if not self.lease(run_id):
            return
        try:
            for _ in range(max_passes):
                if not self.one_pass(run_id):
                    break
        finally:
            self.release(run_id)

    def one_pass(self, run_id: str) -> bool:
        """One transition of the run; True when another pass may do more right away."""
        with Session(self.engine, expire_on_commit=False) as session:
            run = get_run(session, run_id)
            if RunStatus(run.status) in (RunStatus.SUCCEEDED, RunStatus.CANCELLED):
                return False
            steps = steps_of(session, run_id)
            spec = PlaybookSpec.model_validate(run.spec)
            if run.cancel_requested:
                for left in (s for s in steps if s.status == StepStatus.RUNNING):
                    self.executor.orphaned(session, run, left)  # we hold the lease: it is gone
                self.compensator.cancel(session, run, spec, steps)
                session.commit()
                return False
            if run.status == RunStatus.FAILED:
                return False
            row = next((s for s in steps if not settled(s, spec)), None)
            if row is None:
                self.journal.finish_run(session, run, RunStatus.SUCCEEDED, None)
                session.commit()
                return False
            return self.on_step(session, run, spec, steps, row)

    def on_step(
        self,
        session: Session,
        run: PlaybookRun,
        spec: PlaybookSpec,
        steps: list[PlaybookStep],
        row: PlaybookStep,
    ) -> bool:
        """Do what the run's first unsettled step calls for, by its status."""
        status = StepStatus(row.status)
        if status is StepStatus.PENDING:
            return self.gate.decide(session, run, spec.step(row.step_id), steps, row)
        if status is StepStatus.PENDING_APPROVAL:
            self.journal.set_run(session, run, RunStatus.PAUSED, run.reason)
            session.commit()
            return False
        if status is StepStatus.RUNNING:  # we hold the lease: whoever ran it is gone
            self.executor.orphaned(session, run, row)
            session.commit()
            return True
        if status in (StepStatus.FAILED, StepStatus.REJECTED):
            self.journal.finish_run(session, run, RunStatus.FAILED, row.error)
            session.commit()
            return False
        if status is StepStatus.EXPIRED:
            self.journal.set_run(session, run, RunStatus.PAUSED, row.error)
            session.commit()
            return False
        if (
            status is StepStatus.WAITING
            and run.next_check_at
            and run.next_check_at > self.clock.now()
        ):
            return False
        session.commit()
        return self.executor.execute(run.id, row.id, spec.step(row.step_id))


__all__ = ["Runner"]
