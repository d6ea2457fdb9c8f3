"""Shared fixtures: a plane per test on its own database (SQLite, or PostgreSQL when configured)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from factories import CI_PUBLIC_KEY, served, train_bankchurn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from controlplane.adapters.workload.fake import FakeWorkloadBackend
from controlplane.app import create_app
from controlplane.clock import ManualClock
from controlplane.config import Settings

REPO = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("CONTROLPLANE_TEST_DATABASE_URL")
# A Wednesday inside on-hours, so off_hours is inactive unless a test moves the clock.
ON_HOURS = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _fresh_pg_database(base_url: str) -> tuple[str, Callable[[], None]]:
    """Create an empty PostgreSQL database for one test and a function that drops it."""
    url = make_url(base_url)
    name = f"cp_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False
    ), drop


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """SQLite in tmp_path, or a throwaway PostgreSQL database when one is configured."""
    if PG_URL:
        url, drop = _fresh_pg_database(PG_URL)
        yield url
        drop()
    else:
        yield f"sqlite:///{tmp_path / 'state' / 'controlplane.db'}"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings pointing at a temporary state folder and the repo's policies."""
    return Settings(
        state_dir=tmp_path / "state",
        database_url=database_url,
        policy_dir=REPO / "policies",
        playbook_dir=REPO / "playbooks",
        signal_local_ttl_s=0,
        # A writer thread: starting a writer process per test would add ~1.5 s each.
        # tests/audit/test_writer_process.py covers the process writer (the server default).
        audit_writer="thread",
        trusted_ci_keys=CI_PUBLIC_KEY,  # audits signed by factories.CI_KEY are trusted
        deploy_poll_s=0.2,  # the worker's own pass (a request wakes it at once anyway)
    )


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real bankchurn artifact, trained once per session on 1,500 rows (service command line)."""
    return train_bankchurn(tmp_path_factory.mktemp("artifact") / "bankchurn", seed=7)


@pytest.fixture
def clock() -> ManualClock:
    """A clock the test can move, starting on a weekday inside on-hours."""
    return ManualClock(ON_HOURS)


@pytest.fixture
def workloads() -> FakeWorkloadBackend:
    """The in-memory backend the plane deploys to (tests can mark releases broken)."""
    return FakeWorkloadBackend()


@pytest.fixture
def app(
    settings: Settings, clock: ManualClock, workloads: FakeWorkloadBackend
) -> Iterator[FastAPI]:
    """A fully wired plane (migrated database, admin bootstrapped)."""
    application = create_app(settings, clock=clock, workloads=workloads)
    yield application
    application.state.ctx.close()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """An HTTP client for the plane (no credentials)."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def plane_url(app: FastAPI) -> Iterator[str]:
    """The test plane served over real HTTP on a free loopback port; its base URL."""
    with served(app) as url:
        yield url


@pytest.fixture
def admin_headers(app: FastAPI) -> dict[str, str]:
    """Headers carrying the bootstrapped admin token."""
    return {"Authorization": f"Bearer {app.state.ctx.admin_token}"}


TokenFactory = Callable[..., dict[str, str]]


@pytest.fixture
def token_for(client: TestClient, admin_headers: dict[str, str]) -> TokenFactory:
    """Issue a token for a new identity and return its auth headers."""

    def make(
        name: str | None = None, kind: str = "human", roles: tuple[str, ...] = ("operator",)
    ) -> dict[str, str]:
        body = {"name": name or f"user-{uuid.uuid4().hex[:6]}", "kind": kind, "roles": list(roles)}
        response = client.post("/v1/tokens", json=body, headers=admin_headers)
        assert response.status_code == 201, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}

    return make
