"""Dashboard sessions: a token exchanged for a cookie; only the session id's hash is stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from controlplane.sqltypes import UTCDateTime


class UiSession(SQLModel, table=True):
    """One logged-in browser: who, through which token, until when."""

    __tablename__ = "ui_session"

    id_hash: str = Field(primary_key=True, max_length=64)  # sha256 of the cookie's value
    identity_id: str = Field(max_length=32, index=True)
    token_id: str = Field(max_length=32, index=True)  # revoking the token ends the session
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
