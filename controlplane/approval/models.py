"""Approval requests and votes: one queue for every governed change that waits for humans."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydField
from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from controlplane.audit.redact import FreeText
from controlplane.sqltypes import UTCDateTime


class ApprovalStatus(enum.StrEnum):
    """Where an approval request stands; only `pending` takes votes."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    VOIDED = "voided"  # the mode became stricter than what was approved; a new request waits


APPROVAL_TRANSITIONS: Mapping[ApprovalStatus, frozenset[ApprovalStatus]] = {
    ApprovalStatus.PENDING: frozenset(
        {
            ApprovalStatus.APPROVED,
            ApprovalStatus.REJECTED,
            ApprovalStatus.EXPIRED,
            ApprovalStatus.VOIDED,
        }
    ),
    ApprovalStatus.APPROVED: frozenset({ApprovalStatus.VOIDED}),
}


class ApprovalRequest(SQLModel, table=True):
    """What waits for humans, bound to the exact request, policy version and risk snapshot."""

    __tablename__ = "approval_request"

    id: str = Field(primary_key=True, max_length=32)
    subject_kind: str = Field(max_length=32)  # deployment | signal.suppress | incident.resolve...
    subject_id: str = Field(max_length=64, index=True)
    operation: str = Field(max_length=128)
    environment: str = Field(max_length=32)
    service: str | None = Field(default=None, max_length=64)
    requester: str = Field(max_length=128)
    requester_kind: str = Field(max_length=16)
    mode: str = Field(max_length=16)
    required: int
    status: str = Field(default="pending", max_length=16, index=True)
    summary: str = Field(max_length=500)
    request_hash: str = Field(max_length=64)
    policy_version: str = Field(max_length=64)
    risk_snapshot: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    explanation: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    closed_reason: str | None = Field(default=None, max_length=500)


class ApprovalVote(SQLModel, table=True):
    """One human's approve/reject on one request."""

    __tablename__ = "approval_vote"
    __table_args__ = (UniqueConstraint("request_id", "approver", name="uq_vote_once"),)

    id: str = Field(primary_key=True, max_length=32)
    request_id: str = Field(foreign_key="approval_request.id", index=True, max_length=32)
    approver: str = Field(max_length=128)
    verdict: str = Field(max_length=8)  # approve | reject
    comment: str = Field(default="", max_length=2000)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class VoteIn(BaseModel):
    """An approver's comment (required to reject)."""

    model_config = ConfigDict(extra="forbid")

    comment: FreeText = PydField(default="", max_length=2000)


class VotePublic(BaseModel):
    """A vote as shown."""

    approver: str
    verdict: str
    comment: str
    created_at: datetime


class ApprovalPublic(BaseModel):
    """A request for approval with everything a reviewer needs to decide."""

    id: str
    subject_kind: str
    subject_id: str
    operation: str
    environment: str
    service: str | None
    requester: str
    requester_kind: str
    mode: str
    required: int
    approvals: int
    status: str
    summary: str
    request_hash: str
    policy_version: str
    risk_snapshot: list[dict[str, Any]]
    explanation: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    closed_reason: str | None
    votes: list[VotePublic]


class ApprovalsPublic(BaseModel):
    """A list of approval requests."""

    data: list[ApprovalPublic]
    count: int
