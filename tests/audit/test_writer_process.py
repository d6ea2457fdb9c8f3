"""The audit writer process (the server default): decisions are recorded, chained and confirmed
by a separate process; if it dies or the database refuses, requests get 503, never a lie."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from controlplane.adapters.workload.fake import FakeWorkloadBackend
from controlplane.app import create_app
from controlplane.audit.commit.remote import ProcessCommitter
from controlplane.clock import ManualClock
from controlplane.config import Settings
from controlplane.errors import AuditUnavailable
from controlplane.identity.models import Principal
from controlplane.policy.service import DecisionOut
from tests.audit.test_fail_closed import _break_audit_writes
from tests.conftest import ON_HOURS

DECISION = {"operation": "deploy", "environment": "dev", "service": "bankchurn"}


@pytest.fixture
def app(
    settings: Settings, clock: ManualClock, workloads: FakeWorkloadBackend
) -> Iterator[FastAPI]:
    """A plane whose decision records go through the writer process."""
    application = create_app(
        settings.model_copy(update={"audit_writer": "process"}), clock=clock, workloads=workloads
    )
    assert isinstance(application.state.ctx.audit.committer, ProcessCommitter)
    yield application
    application.state.ctx.close()


def _decide(client: TestClient, headers: dict[str, str]) -> dict:
    r = client.post("/v1/decisions", json=DECISION, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_concurrent_decisions_are_recorded_in_one_gap_free_chain(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        outs = list(pool.map(lambda _: _decide(client, admin_headers), range(120)))
    seqs = sorted(o["audit_seq"] for o in outs)
    assert all(o["recorded"] for o in outs)
    assert len(set(seqs)) == 120
    report = client.get("/v1/audit/verify", headers=admin_headers).json()
    assert report["ok"] is True, report["problems"]
    # Every confirmed seq holds that very decision.
    for out in outs[:10]:
        stored = client.get(f"/v1/decisions/{out['decision_id']}", headers=admin_headers).json()
        assert stored["audit_seq"] == out["audit_seq"]


def test_response_body_is_the_decision_as_recorded(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    r = client.post("/v1/decisions", json=DECISION, headers=admin_headers)
    out = DecisionOut.model_validate_json(r.content)
    assert r.content == out.model_dump_json().encode()  # byte-for-byte DecisionOut's own JSON
    again = client.get(f"/v1/decisions/{out.decision_id}", headers=admin_headers).json()
    assert again["audit_seq"] == out.audit_seq
    assert again["signals"] == r.json()["signals"]
    dry = client.post("/v1/decisions", json={**DECISION, "dry_run": True}, headers=admin_headers)
    assert dry.json()["recorded"] is False and dry.json()["audit_seq"] is None


def test_killed_writer_means_503_then_a_new_writer(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    first = _decide(client, admin_headers)
    committer = app.state.ctx.audit.committer
    old_pid = committer.pid
    os.kill(old_pid, signal.SIGKILL)
    statuses = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = client.post("/v1/decisions", json=DECISION, headers=admin_headers)
        statuses.append(r.status_code)
        if r.status_code == 200:
            break
        assert r.status_code == 503 and r.json()["error"]["code"] == "audit_unavailable"
    assert statuses[-1] == 200, statuses
    assert committer.pid not in (None, old_pid)
    assert r.json()["audit_seq"] == first["audit_seq"] + 1  # nothing lost, nothing doubled
    assert client.get("/v1/audit/verify", headers=admin_headers).json()["ok"] is True


def test_hung_writer_is_killed_and_its_waiting_requests_get_503(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    before = _decide(client, admin_headers)
    committer = app.state.ctx.audit.committer
    committer._commit_timeout_s = 1.0  # the 30 s default, shortened for the test
    hung = committer.pid
    os.kill(hung, signal.SIGSTOP)  # alive but not answering: no EOF to notice
    r = client.post("/v1/decisions", json=DECISION, headers=admin_headers)
    assert r.status_code == 503 and r.json()["error"]["code"] == "audit_unavailable"
    with pytest.raises(ProcessLookupError):
        os.kill(hung, 0)  # killed (and reaped) as hung
    after = _decide(client, admin_headers)
    assert committer.pid not in (None, hung)
    assert after["audit_seq"] == before["audit_seq"] + 1  # the unconfirmed one was not kept


def test_database_refusal_is_503_and_nothing_recorded(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    before = _decide(client, admin_headers)
    _break_audit_writes(app)
    r = client.post("/v1/decisions", json=DECISION, headers=admin_headers)
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "audit_unavailable"
    with app.state.ctx.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_broken" + (" ON audit_log" if _pg(app) else "")))
    after = _decide(client, admin_headers)
    assert after["audit_seq"] == before["audit_seq"] + 1  # the refused one left no record


def test_blocking_callers_append_in_their_own_transaction(
    app: FastAPI, admin_headers: dict[str, str]
) -> None:
    principal = Principal(
        identity_id="script", name="nightly-job", kind="ci", roles=frozenset({"operator"})
    )
    line = app.state.ctx.audit.record_alone(principal, operation="deploy", result="requested")
    assert line.seq >= 1
    with TestClient(app) as client:
        assert _decide(client, admin_headers)["audit_seq"] == line.seq + 1


def test_close_lets_the_writer_finish_and_exit(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    _decide(client, admin_headers)
    pid = app.state.ctx.audit.committer.pid
    app.state.ctx.audit.committer.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_unmigrated_database_refuses_to_start(tmp_path: Path) -> None:
    from controlplane import db
    from controlplane.audit.signing import Signer

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(AuditUnavailable) as caught:
        ProcessCommitter(
            engine=db.make_engine(url),
            database_url=url,
            signing_key=tmp_path / "key",
            clock=ManualClock(ON_HOURS),
            signer=Signer.load_or_create(tmp_path / "key"),
            checkpoint_every=lambda: 1000,
        )
    assert "audit" in str(caught.value.details["cause"])


def _pg(app: FastAPI) -> bool:
    return app.state.ctx.engine.dialect.name == "postgresql"
