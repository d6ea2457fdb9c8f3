"""Deployments: one row per request, moving through the §5 state machine."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from controlplane.sqltypes import UTCDateTime

# pending_approval -> approved -> executing -> succeeded | failed | rolled_back;
# or rejected | expired | blocked. A succeeded release replaced later gets `healthy_until`.


class Deployment(SQLModel, table=True):
    """A request to run one release of one service in one environment, and what became of it."""

    __tablename__ = "deployment"

    id: str = Field(primary_key=True, max_length=32)
    service: str = Field(max_length=64, index=True)
    environment: str = Field(max_length=32, index=True)
    release: str = Field(max_length=200)
    kind: str = Field(default="deploy", max_length=16)  # deploy | rollback (a playbook's restore)
    release_tag: str | None = Field(default=None, max_length=64)
    commit_sha: str | None = Field(default=None, max_length=40)
    commit_time: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    request: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    request_hash: str = Field(max_length=64)
    requested_by: str = Field(max_length=128)
    requested_kind: str = Field(max_length=16)
    status: str = Field(max_length=24, index=True)
    mode: str | None = Field(default=None, max_length=16)
    decision_id: str | None = Field(default=None, max_length=64)
    decision: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    gates: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    approval_id: str | None = Field(default=None, max_length=32)
    previous_release: str | None = Field(default=None, max_length=200)
    executed_by: str | None = Field(default=None, max_length=128)
    failure_reason: str | None = Field(default=None, max_length=2000)
    health: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    step: str | None = Field(default=None, max_length=200)
    step_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    cause: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    healthy_since: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    healthy_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class DeploymentPublic(BaseModel):
    """A deployment as the API shows it, with what a person or agent does next."""

    id: str
    service: str
    environment: str
    release: str
    kind: str = "deploy"
    release_tag: str | None
    commit_sha: str | None
    status: str
    mode: str | None
    decision_id: str | None
    decision: dict[str, Any]
    gates: list[dict[str, Any]]
    approval_id: str | None
    approvals: int = 0
    required_approvals: int = 0
    previous_release: str | None
    requested_by: str
    executed_by: str | None
    failure_reason: str | None
    cause: dict[str, Any] | None = None
    health: dict[str, Any]
    step: str | None = None
    step_at: datetime | None = None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    healthy_since: datetime | None
    message: str = ""


class DeploymentsPublic(BaseModel):
    """A list of deployments."""

    data: list[DeploymentPublic]
    count: int


class ServiceStatus(BaseModel):
    """What runs where: one row per service and environment."""

    service: str
    environment: str
    release: str | None
    deployment_id: str | None
    status: str
    healthy: bool | None
    since: datetime | None
    url: str | None  # the stable address; it survives rollouts
    detail: str | None = None  # why it is not running, when the backend knows


class ServiceLogs(BaseModel):
    """Lines of one service's log (secrets masked) and the cursor for the lines after them."""

    service: str
    environment: str
    release: str | None
    source: str
    lines: list[str]
    cursor: str
