"""What the chat door keeps: the Slack requests it has already taken, for as long as they verify."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Column, Field, SQLModel

from controlplane.sqltypes import UTCDateTime


class SeenChatRequest(SQLModel, table=True):
    """One signed request taken (sha256 of timestamp and signature), kept until it goes stale.

    In the database, not in a process: with several replicas behind one URL, a replayed request
    reaching another replica is refused too (the primary key makes the second insert fail).
    """

    __tablename__ = "chat_request_seen"

    key: str = Field(primary_key=True, max_length=64)
    until: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
