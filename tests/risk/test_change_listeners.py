"""Change listeners (the signal cache's invalidation) run once the change is visible to readers.

A governed action executes inside a SAVEPOINT, and SQLAlchemy reports a released SAVEPOINT as a
commit: listeners that ran then let a decision racing the request re-cache the signals from
before the change for a whole TTL (an incident the webhook opened did not escalate decisions
for up to `signal_local_ttl_s`).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from controlplane import db


def test_an_incident_is_visible_to_signal_readers_when_the_cache_hears_of_it(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    signals = app.state.ctx.signals
    seen: list[str] = []
    # What a decision racing the request would read and cache right after the invalidation.
    db.on_change(
        app.state.ctx.engine,
        "signals",
        lambda: seen.append(signals.real("incident_active", "bankchurn", "dev").state.value),
    )
    body = {"service": "bankchurn", "environment": "dev", "severity": "P1", "title": "errors"}
    r = client.post("/v1/incidents", json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    assert seen == ["active"]


def test_listeners_wait_for_the_outer_commit_and_survive_a_rolled_back_savepoint(
    app: FastAPI,
) -> None:
    engine, calls = app.state.ctx.engine, []
    db.on_change(engine, "test_topic", lambda: calls.append("changed"))
    with Session(engine) as session:
        with session.begin_nested():
            db.mark_changed(session, "test_topic")
        assert calls == []  # released, not committed: nobody else can see it yet
        try:
            with session.begin_nested():
                raise RuntimeError("a step that fails and is rolled back to its savepoint")
        except RuntimeError:
            pass
        session.commit()
    assert calls == ["changed"]
