"""DORA fixtures: a migrated database (SQLite, or PostgreSQL when configured) and row builders
that write through the deploy and incident domains' own models."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from controlplane import db
from controlplane.config import Settings
from controlplane.deploy.models import Deployment
from controlplane.incident.models import Incident
from tests.cli.conftest import admin_token, opsctl  # noqa: F401  (fixtures)

Add = Callable[..., Any]


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """The plane's schema, migrated, on the test database."""
    eng = db.make_engine(settings.resolved_database_url)
    db.migrate(eng)
    yield eng
    eng.dispose()


def deployment(
    finished: datetime | None,
    *,
    service: str = "bankchurn",
    environment: str = "production",
    kind: str = "deploy",
    status: str = "succeeded",
    requester: str = "ci",
    commit_time: datetime | None = None,
    commit_sha: str | None = None,
    started: datetime | None = None,
    release: str | None = None,
) -> Deployment:
    """A finished deployment row as the plane writes it."""
    created = (started or finished or datetime.now().astimezone()) - timedelta(minutes=5)
    return Deployment(
        id=uuid.uuid4().hex, service=service, environment=environment,
        release=release or f"{service}@sha256:{uuid.uuid4().hex * 2}", kind=kind,
        commit_sha=commit_sha, commit_time=commit_time, request_hash="0" * 64,
        requested_by=f"{requester}-bot", requested_kind=requester, status=status,
        created_at=created, started_at=started or finished, finished_at=finished,
    )  # fmt: skip


def incident(
    opened: datetime,
    *,
    deployment_id: str | None = None,
    service: str | None = "bankchurn",
    environment: str | None = "production",
    mitigated: datetime | None = None,
    resolved: datetime | None = None,
) -> Incident:
    """An incident row, optionally naming the deployment that caused it."""
    return Incident(
        id=uuid.uuid4().hex, service=service, environment=environment, severity="P2",
        title="5xx after deploy", status="resolved" if resolved else "open", opened_by="oncall",
        opened_at=opened, mitigated_at=mitigated, resolved_at=resolved,
        deployment_id=deployment_id,
    )  # fmt: skip


@pytest.fixture
def add(engine: Engine) -> Add:
    """Write rows (deployments, incidents) in one committed transaction; return them."""

    def write(*rows: Any) -> list[Any]:
        with Session(engine, expire_on_commit=False) as session:
            session.add_all(rows)
            session.commit()
        return list(rows)

    return write
