"""Audit log tables and the API's view of them."""

from __future__ import annotations

from typing import Any, NamedTuple

from pydantic import BaseModel
from sqlalchemy import JSON, BigInteger, Column, Index
from sqlmodel import Field, SQLModel

# `answered`: a what-if decision (POST /v1/decisions), recorded under the operation it asked
# about; it changed nothing, unlike `requested`. `refused`: a state-changing call the plane
# turned down (who tried, and why not).
RESULTS = (
    "requested",
    "answered",
    "success",
    "failure",
    "halted",
    "rejected",
    "expired",
    "skipped",
    "refused",
)


class AuditRecord(SQLModel, table=True):
    """One append-only, hash-chained entry; never updated or deleted."""

    __tablename__ = "audit_log"
    # (operation, ts): "the newest rollback in the last 6 h" without scanning (migration 0003).
    # (column, seq): a filter read newest first walks one index in seq order and stops at the
    # page's end, instead of sorting every match (migration 0009).
    __table_args__ = (
        Index("ix_audit_log_operation_ts", "operation", "ts"),
        Index("ix_audit_log_actor_seq", "actor", "seq"),
        Index("ix_audit_log_actor_kind_seq", "actor_kind", "seq"),
        Index("ix_audit_log_environment_seq", "environment", "seq"),
        Index("ix_audit_log_service_seq", "service", "seq"),
        Index("ix_audit_log_result_seq", "result", "seq"),
    )

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    id: str = Field(max_length=32, unique=True)
    ts: str = Field(max_length=40, index=True)
    actor: str = Field(max_length=128)
    actor_kind: str = Field(max_length=16)
    operation: str = Field(max_length=128)
    environment: str | None = Field(default=None, max_length=32)
    service: str | None = Field(default=None, max_length=64)
    base_mode: str | None = Field(default=None, max_length=16)
    final_mode: str | None = Field(default=None, max_length=16)
    signals: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    decision_id: str | None = Field(default=None, max_length=64, index=True)
    approvers: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    result: str = Field(max_length=16)
    inputs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    outputs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    policy_version: str | None = Field(default=None, max_length=64)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """The chain's tip; its row lock serializes appends across threads and replicas."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    hash: str = Field(max_length=64)


class AuditCheckpoint(SQLModel, table=True):
    """A signed statement of the head hash at a seq, so truncation cannot hide."""

    __tablename__ = "audit_checkpoint"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: str = Field(max_length=64)
    ts: str = Field(max_length=40)
    public_key: str = Field(max_length=128)
    signature: str = Field(max_length=256)


class AuditLine(BaseModel):
    """An audit record in its export form (seed field names plus seq and hashes)."""

    seq: int
    audit_id: str
    timestamp: str
    agent: str
    actor_kind: str
    operation: str
    environment: str | None
    service: str | None
    base_mode: str | None
    mode: str | None
    risk_signals: list[str]
    signals: list[dict[str, Any]]
    decision_id: str | None
    approver: str | None
    approvers: list[str]
    result: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    policy_version: str | None
    prev_hash: str
    hash: str


class Appended(NamedTuple):
    """Where a record landed in the chain: all a caller needs back from an append."""

    seq: int
    hash: str
    ts: str


class AuditPage(BaseModel):
    """A page of audit lines and the cursor for the next page."""

    data: list[AuditLine]
    count: int
    next_cursor: int | None


class VerifyResult(BaseModel):
    """Chain status for people and scripts."""

    ok: bool
    records: int
    last_seq: int
    head_hash: str
    checkpoints_checked: int
    last_checkpoint_seq: int | None
    last_checkpoint_ts: str | None
    problems: list[str]
    summary: str
