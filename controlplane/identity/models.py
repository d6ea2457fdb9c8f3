"""Identities, their hashed API tokens, and the principal a request acts as."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, StrictFloat, field_validator
from pydantic import Field as PydField
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from controlplane.audit.redact import FreeText, redact_text
from controlplane.sqltypes import UTCDateTime

Kind = Literal["human", "agent", "ci", "service"]
Role = Literal["viewer", "operator", "approver", "admin"]
ROLE_IMPLIES: dict[str, frozenset[str]] = {
    "admin": frozenset({"admin", "operator", "approver", "viewer"}),
    "operator": frozenset({"operator", "viewer"}),
    "approver": frozenset({"approver", "viewer"}),
    "viewer": frozenset({"viewer"}),
}


class Identity(SQLModel, table=True):
    """A person, agent, CI job or service that can call the plane."""

    __tablename__ = "identity"

    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=128, unique=True)
    kind: str = Field(max_length=16)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    disabled: bool = False


class ApiToken(SQLModel, table=True):
    """A bearer token, stored only as its sha256."""

    __tablename__ = "api_token"

    id: str = Field(primary_key=True, max_length=32)
    identity_id: str = Field(foreign_key="identity.id", index=True, max_length=32)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as, resolved from its token."""

    identity_id: str
    name: str
    kind: str
    roles: frozenset[str]
    token_id: str | None = None  # the token it presented (None: the plane itself)

    def has(self, role: str) -> bool:
        """True when any held role implies `role`."""
        return any(role in ROLE_IMPLIES.get(r, frozenset()) for r in self.roles)


# The plane itself, when it acts on its own (start-up recovery, expiry of approvals).
SYSTEM = Principal("system", "controlplane", "service", frozenset({"operator"}))


def _viewer_only() -> list[Role]:
    return ["viewer"]


class TokenCreate(BaseModel):
    """Ask for a new identity (or a new token for an existing one)."""

    model_config = ConfigDict(extra="forbid")

    name: str = PydField(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9@._:-]+$")
    kind: Kind = "human"
    roles: list[Role] = PydField(default_factory=_viewer_only, min_length=1)
    ttl_hours: StrictFloat | None = PydField(default=None, gt=0, le=24 * 366)

    @field_validator("name")
    @classmethod
    def _not_a_secret(cls, value: str) -> str:
        if redact_text(value) != value:
            raise ValueError("looks like a secret (a token or key); an identity name is shown")
        return value


class TokenIssued(BaseModel):
    """The only time a token is shown in clear (it works once `status` is active)."""

    identity_id: str | None
    name: str
    kind: str
    roles: list[str]
    token: str
    token_id: str | None
    expires_at: datetime | None
    status: str = "active"  # or pending_approval: it works once approved (approval_id)
    approval_id: str | None = None
    audit_seq: int | None = None


class TokenPublic(BaseModel):
    """A token without its secret: who holds it, since when, until when, revoked or not."""

    id: str
    identity: str
    kind: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class Revoke(BaseModel):
    """Why a token is revoked or an identity disabled (kept in the audit log)."""

    model_config = ConfigDict(extra="forbid")

    reason: FreeText = PydField(min_length=3, max_length=500)


class IdentityPublic(BaseModel):
    """An identity without secrets."""

    id: str
    name: str
    kind: str
    roles: list[str]
    created_at: datetime
    disabled: bool


class WhoAmI(BaseModel):
    """The caller as the plane sees it."""

    identity_id: str
    name: str
    kind: str
    roles: list[str]
