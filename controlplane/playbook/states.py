"""The life of a run and of its steps, each as a status table moved only through `move`."""

from __future__ import annotations

import enum
from collections.abc import Mapping

from controlplane.governance.states import move

__all__ = ["RUN_TRANSITIONS", "STEP_TRANSITIONS", "RunStatus", "StepStatus", "move"]


class RunStatus(enum.StrEnum):
    """queued -> running -> (paused | waiting)* -> succeeded | failed | cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"  # a step waits for humans (approval), or its approval expired
    WAITING = "waiting"  # a step looks again later (a retry backoff, a deployment in flight)
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StepStatus(enum.StrEnum):
    """pending -> (pending_approval -> approved | approved) -> running -> succeeded | failed."""

    PENDING = "pending"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    RUNNING = "running"
    RESUMING = "resuming"  # its replica died mid-step: run again under the same key
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    COMPENSATED = "compensated"


TERMINAL_RUN = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})
_LIVE_RUN = frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.WAITING})
RUN_TRANSITIONS: Mapping[RunStatus, frozenset[RunStatus]] = {
    RunStatus.QUEUED: _LIVE_RUN | TERMINAL_RUN,
    RunStatus.RUNNING: _LIVE_RUN | TERMINAL_RUN,
    RunStatus.PAUSED: _LIVE_RUN | TERMINAL_RUN,
    RunStatus.WAITING: _LIVE_RUN | TERMINAL_RUN,
    RunStatus.FAILED: frozenset({RunStatus.QUEUED, RunStatus.CANCELLED}),  # resume, or give up
    RunStatus.SUCCEEDED: frozenset(),
    RunStatus.CANCELLED: frozenset(),
}

_RUNNABLE = frozenset({StepStatus.APPROVED, StepStatus.RUNNING, StepStatus.RESUMING})
STEP_TRANSITIONS: Mapping[StepStatus, frozenset[StepStatus]] = {
    StepStatus.PENDING: frozenset(
        {StepStatus.PENDING_APPROVAL, StepStatus.APPROVED, StepStatus.SKIPPED}
        | {StepStatus.FAILED, StepStatus.CANCELLED}
    ),
    StepStatus.PENDING_APPROVAL: frozenset(
        {StepStatus.PENDING_APPROVAL, StepStatus.APPROVED, StepStatus.REJECTED}
        | {StepStatus.EXPIRED, StepStatus.CANCELLED}
    ),
    StepStatus.APPROVED: _RUNNABLE | {StepStatus.PENDING_APPROVAL, StepStatus.CANCELLED},
    StepStatus.RUNNING: frozenset(
        {StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.WAITING, StepStatus.RESUMING}
    ),
    StepStatus.RESUMING: _RUNNABLE | {StepStatus.PENDING_APPROVAL, StepStatus.CANCELLED},
    StepStatus.WAITING: _RUNNABLE | {StepStatus.PENDING_APPROVAL, StepStatus.CANCELLED},
    StepStatus.SUCCEEDED: frozenset({StepStatus.COMPENSATED}),
    StepStatus.FAILED: frozenset({StepStatus.PENDING}),  # resume: a new attempt group
    StepStatus.EXPIRED: frozenset({StepStatus.PENDING, StepStatus.CANCELLED}),
    StepStatus.REJECTED: frozenset(),
    StepStatus.SKIPPED: frozenset(),
    StepStatus.CANCELLED: frozenset(),
    StepStatus.COMPENSATED: frozenset(),
}
SETTLED = frozenset({StepStatus.SUCCEEDED, StepStatus.SKIPPED, StepStatus.COMPENSATED})
