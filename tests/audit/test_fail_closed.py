"""If the audit record cannot be written, the action does not happen (503)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text


def _break_audit_writes(app: FastAPI) -> None:
    """A real database failure on every audit insert (like a full disk or revoked grant)."""
    engine = app.state.ctx.engine
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION audit_broken() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN RAISE EXCEPTION 'disk full'; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER audit_broken BEFORE INSERT ON audit_log "
                    "FOR EACH ROW EXECUTE FUNCTION audit_broken()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER audit_broken BEFORE INSERT ON audit_log "
                    "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                )
            )


def test_incident_not_opened_when_audit_fails(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    _break_audit_writes(app)
    r = client.post(
        "/v1/incidents",
        json={"severity": "P1", "title": "bankchurn 5xx", "service": "bankchurn"},
        headers=admin_headers,
    )
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "audit_unavailable"
    listed = client.get("/v1/incidents", headers=admin_headers).json()
    assert listed["count"] == 0
    signals = client.get("/v1/signals?service=bankchurn", headers=admin_headers).json()["data"]
    incident = next(s for s in signals if s["name"] == "incident_active")
    assert incident["state"] == "inactive"


def test_override_not_applied_when_audit_fails(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    _break_audit_writes(app)
    r = client.put(
        "/v1/signals/off_hours",
        json={"state": "inactive", "ttl": "1h", "reason": "maintenance window"},
        headers=admin_headers,
    )
    assert r.status_code == 503
    signals = client.get("/v1/signals", headers=admin_headers).json()["data"]
    assert next(s for s in signals if s["name"] == "off_hours")["source"] == "clock"


def test_decision_is_not_returned_as_recorded_when_audit_fails(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str]
) -> None:
    _break_audit_writes(app)
    r = client.post(
        "/v1/decisions", json={"operation": "deploy", "environment": "dev"}, headers=admin_headers
    )
    assert r.status_code == 503
    dry = client.post(
        "/v1/decisions",
        json={"operation": "deploy", "environment": "dev", "dry_run": True},
        headers=admin_headers,
    )
    assert dry.status_code == 200 and dry.json()["recorded"] is False
