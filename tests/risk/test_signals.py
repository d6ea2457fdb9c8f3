"""Signals from their sources: clock, audit log, overrides; the off-hours window is validated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from controlplane.clock import ManualClock
from controlplane.config import Settings
from controlplane.identity.models import Principal
from controlplane.risk.signals import is_off_hours, parse_on_hours


@pytest.mark.parametrize(
    ("when", "off"),
    [
        (datetime(2026, 11, 25, 7, 59, tzinfo=UTC), True),
        (datetime(2026, 11, 25, 8, 0, tzinfo=UTC), False),
        (datetime(2026, 11, 25, 17, 59, tzinfo=UTC), False),
        (datetime(2026, 11, 25, 18, 0, tzinfo=UTC), True),
        (datetime(2026, 11, 28, 12, 0, tzinfo=UTC), True),  # Saturday
        (datetime(2026, 11, 29, 12, 0, tzinfo=UTC), True),  # Sunday
    ],
)
def test_off_hours_boundaries(when: datetime, off: bool) -> None:
    assert is_off_hours(when) is off


@pytest.mark.parametrize("window", ["00-24", "18-08", "10-10", "8to18", "07-25", "", "-1-5"])
def test_bad_on_hours_windows_are_rejected(window: str) -> None:
    with pytest.raises(ValueError):
        parse_on_hours(window)


def test_00_23_window_is_accepted() -> None:
    assert parse_on_hours("00-23") == (0, 23)


def test_settings_refuse_a_bad_on_hours_override() -> None:
    with pytest.raises(ValueError, match="24 h"):
        Settings(on_hours_utc="00-24")


def test_recent_rollback_from_the_audit_log(
    app: FastAPI, client: TestClient, admin_headers, clock: ManualClock
) -> None:
    ctx = app.state.ctx
    oncall = Principal("x", "oncall", "human", frozenset({"operator"}))
    with Session(ctx.engine) as session:
        ctx.audit.record(
            session,
            oncall,
            operation="rollback",
            result="success",
            environment="production",
            service="bankchurn",
        )
        session.commit()

    def state() -> str:
        data = client.get("/v1/signals?service=bankchurn", headers=admin_headers).json()["data"]
        return next(s for s in data if s["name"] == "recent_rollback")["state"]

    assert state() == "active"
    clock.advance(timedelta(hours=6, minutes=1))
    assert state() == "inactive"


def test_a_raise_escalates_at_once_is_audited_and_its_clear_restores_the_source(
    client: TestClient, admin_headers
) -> None:
    def decide() -> str:
        body = {"operation": "deploy", "environment": "dev", "service": "bankchurn"}
        return str(
            client.post("/v1/decisions", json=body, headers=admin_headers).json()["final_mode"]
        )

    r = client.put(
        "/v1/signals/incident_active",
        json={"ttl": "2h", "reason": "pager says 5xx", "service": "bankchurn"},
        headers=admin_headers,
    )
    assert r.status_code == 200, r.text
    assert decide() == "CONSULT"
    lines = client.get("/v1/audit?operation=signal.override", headers=admin_headers).json()["data"]
    assert [line["result"] for line in lines] == ["requested", "success"]
    assert lines[0]["inputs"]["request"]["reason"] == "pager says 5xx"
    cleared = client.delete("/v1/signals/incident_active?service=bankchurn", headers=admin_headers)
    assert cleared.status_code == 200 and cleared.json()["cleared"] == [r.json()["id"]]
    assert decide() == "AUTO"
