"""Playbook runs as rows: the run, each step, each attempt, and the effects already done.

A run snapshots the playbook it follows (`spec`), so an edit of the file never changes a run in
flight. `lease_owner`/`lease_until` make one plane replica at a time the one that advances it.
`playbook_effect` is the idempotency ledger: a key that finished is never run again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from controlplane.sqltypes import UTCDateTime


class PlaybookRun(SQLModel, table=True):
    """One run of a playbook: who asked, with what, where it stands and who advances it."""

    __tablename__ = "playbook_run"

    id: str = Field(primary_key=True, max_length=32)
    playbook: str = Field(max_length=64, index=True)
    playbook_version: str = Field(max_length=64)
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    inputs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    command: str | None = Field(default=None, max_length=2000)
    status: str = Field(max_length=16, index=True)
    reason: str | None = Field(default=None, max_length=2000)
    environment: str | None = Field(default=None, max_length=32)
    service: str | None = Field(default=None, max_length=64)
    requested_by: str = Field(max_length=128, index=True)
    requested_kind: str = Field(max_length=16)
    via: str = Field(default="api", max_length=16)  # api | cli | slack | mcp
    current_step: str | None = Field(default=None, max_length=64)
    outputs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    cancel_requested: bool = False
    cancel_reason: str | None = Field(default=None, max_length=500)
    compensate_on_cancel: bool = False
    lease_owner: str | None = Field(default=None, max_length=96)
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    next_check_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    reply_to: str | None = Field(default=None, max_length=500)  # a chat response URL
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class PlaybookStep(SQLModel, table=True):
    """One step of a run: its decision, approval, rendered inputs, outcome."""

    __tablename__ = "playbook_step"
    __table_args__ = (UniqueConstraint("run_id", "step_id"),)

    id: str = Field(primary_key=True, max_length=32)
    run_id: str = Field(max_length=32, index=True)
    step_id: str = Field(max_length=64)
    position: int
    action: str = Field(max_length=64)
    operation: str = Field(max_length=64)
    status: str = Field(max_length=24, index=True)
    environment: str | None = Field(default=None, max_length=32)
    service: str | None = Field(default=None, max_length=64)
    mode: str | None = Field(default=None, max_length=16)
    decision_id: str | None = Field(default=None, max_length=64)
    decision: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    approval_id: str | None = Field(default=None, max_length=32)
    approvers: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    inputs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    request_hash: str | None = Field(default=None, max_length=64)
    attempt_group: int = 1
    attempts: int = 0
    outputs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    notes: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    error: str | None = Field(default=None, max_length=2000)
    executed_by: str | None = Field(default=None, max_length=96)
    started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class PlaybookAttempt(SQLModel, table=True):
    """One try of one step, by one replica (the timeline people read after a retry or a crash)."""

    __tablename__ = "playbook_attempt"

    id: str = Field(primary_key=True, max_length=32)
    run_id: str = Field(max_length=32, index=True)
    step_id: str = Field(max_length=64)
    number: int
    idempotency_key: str = Field(max_length=160)
    owner: str = Field(max_length=96)
    status: str = Field(max_length=16)  # running | succeeded | failed | orphaned | timed_out
    error: str | None = Field(default=None, max_length=2000)
    started_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class PlaybookEffect(SQLModel, table=True):
    """An idempotency key whose action finished, with its outputs (never run twice)."""

    __tablename__ = "playbook_effect"

    key: str = Field(primary_key=True, max_length=160)
    run_id: str = Field(max_length=32, index=True)
    outputs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


# --- what the API shows ----------------------------------------------------------------------


class StepPublic(BaseModel):
    """A step as people read it in a run's timeline."""

    step_id: str
    position: int
    action: str
    operation: str
    status: str
    mode: str | None
    environment: str | None
    service: str | None
    reasons: list[str]
    approval_id: str | None
    approvals: int
    required_approvals: int
    approvers: list[str]
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    notes: list[str]
    error: str | None
    attempts: int
    executed_by: str | None
    started_at: datetime | None
    finished_at: datetime | None


class RunPublic(BaseModel):
    """A run with its steps and the line a person or agent reads first."""

    id: str
    playbook: str
    status: str
    reason: str | None
    message: str
    inputs: dict[str, Any]
    command: str | None
    environment: str | None
    service: str | None
    requested_by: str
    requested_kind: str
    via: str
    current_step: str | None
    cancel_requested: bool
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    steps: list[StepPublic]


class RunsPublic(BaseModel):
    """A list of runs (without their steps' inputs and outputs)."""

    data: list[RunPublic]
    count: int


class PlannedStep(BaseModel):
    """One step of a dry run: what it would be asked to do, and the mode it would get now."""

    step_id: str
    action: str
    operation: str
    environment: str | None
    service: str | None
    mode: str | None
    required_approvals: int
    reasons: list[str]
    inputs: dict[str, Any]
    unresolved: list[str]  # inputs that depend on an earlier step's outputs
    skipped: bool | None  # None when the condition depends on an earlier step
    when: str | None


class RunPlan(BaseModel):
    """A dry run: the plan and each step's mode; nothing was stored or changed."""

    playbook: str
    inputs: dict[str, Any]
    dry_run: bool = True
    steps: list[PlannedStep]
    message: str
