"""Governed actions: one row per state change of the plane itself, from request to outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from controlplane.sqltypes import UTCDateTime


class GovernedAction(SQLModel, table=True):
    """A signal override or suppression, an incident resolution, a token...: asked, decided, done.

    `request` is the redacted payload the approval is bound to (its sha256 is `request_hash`);
    `status` moves only through `states.move` with `ACTION_TRANSITIONS`.
    """

    __tablename__ = "governed_action"

    id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=64, index=True)  # the policy operation, e.g. signal.suppress
    environment: str = Field(max_length=32)
    service: str | None = Field(default=None, max_length=64)
    summary: str = Field(max_length=500)
    request: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    request_hash: str = Field(max_length=64)
    requested_by: str = Field(max_length=128, index=True)
    requested_kind: str = Field(max_length=16)
    status: str = Field(max_length=24, index=True)
    mode: str = Field(max_length=16)
    decision_id: str = Field(max_length=64)
    decision: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    approval_id: str | None = Field(default=None, max_length=32)
    outputs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    failure_reason: str | None = Field(default=None, max_length=2000)
    executed_by: str | None = Field(default=None, max_length=128)
    audit_seq: int | None = None  # the record of its outcome
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class ActionPublic(BaseModel):
    """A governed action as the API shows it, with what a person or agent does next."""

    id: str
    kind: str
    status: str
    mode: str
    environment: str
    service: str | None
    summary: str
    requested_by: str
    requested_kind: str
    approval_id: str | None
    approvals: int
    required_approvals: int
    decision: dict[str, Any]
    outputs: dict[str, Any]
    failure_reason: str | None
    executed_by: str | None
    audit_seq: int | None
    created_at: datetime
    finished_at: datetime | None
    message: str


class ActionsPublic(BaseModel):
    """A list of governed actions."""

    data: list[ActionPublic]
    count: int
