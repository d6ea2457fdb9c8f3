"""The chain catches every kind of tampering, located to the record."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from controlplane.audit import chain


def _decide(client: TestClient, headers: dict[str, str], n: int) -> None:
    for i in range(n):
        env = ("dev", "staging", "production")[i % 3]
        r = client.post(
            "/v1/decisions",
            json={"operation": "deploy", "environment": env, "service": "bankchurn"},
            headers=headers,
        )
        assert r.status_code == 200, r.text


def _tamper(app: FastAPI, *statements: str) -> None:
    """Act as someone with database access: drop the append-only guards, then edit rows."""
    engine = app.state.ctx.engine
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
        for statement in statements:
            conn.execute(text(statement))


def _verify(client: TestClient, headers: dict[str, str]) -> dict:
    r = client.get("/v1/audit/verify", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_untouched_chain_verifies(client: TestClient, admin_headers: dict[str, str]) -> None:
    _decide(client, admin_headers, 6)
    report = _verify(client, admin_headers)
    assert report["ok"] is True
    assert report["records"] == 6
    assert report["problems"] == []


def test_database_refuses_update_and_delete(
    app: FastAPI, client: TestClient, admin_headers
) -> None:
    """No update or delete path exists, not even in SQL, until someone drops the guard."""
    _decide(client, admin_headers, 1)
    with pytest.raises(Exception, match="append-only"), app.state.ctx.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1"))
    with pytest.raises(Exception, match="append-only"), app.state.ctx.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 1"))


def test_edited_field_is_caught(app: FastAPI, client: TestClient, admin_headers) -> None:
    _decide(client, admin_headers, 5)
    _tamper(app, "UPDATE audit_log SET final_mode = 'AUTO' WHERE seq = 3")
    report = _verify(client, admin_headers)
    assert report["ok"] is False
    assert any(p.startswith("record 3: edited") for p in report["problems"])


def test_deleted_row_is_caught(app: FastAPI, client: TestClient, admin_headers) -> None:
    _decide(client, admin_headers, 5)
    _tamper(app, "DELETE FROM audit_log WHERE seq = 2")
    report = _verify(client, admin_headers)
    assert report["ok"] is False
    assert any("record 3: missing" in p and "2" in p for p in report["problems"])


def test_swapped_rows_are_caught(app: FastAPI, client: TestClient, admin_headers) -> None:
    _decide(client, admin_headers, 5)
    _tamper(
        app,
        "UPDATE audit_log SET seq = 1000 WHERE seq = 2",
        "UPDATE audit_log SET seq = 2 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 1000",
    )
    report = _verify(client, admin_headers)
    assert report["ok"] is False
    located = " ".join(report["problems"])
    assert "record 2:" in located and "record 3:" in located


def test_truncated_tail_is_caught(app: FastAPI, client: TestClient, admin_headers) -> None:
    _decide(client, admin_headers, 5)
    _tamper(app, "DELETE FROM audit_log WHERE seq >= 4")
    report = _verify(client, admin_headers)
    assert report["ok"] is False
    assert any("truncated" in p for p in report["problems"])


def test_truncation_with_rewritten_head_is_caught_by_signed_checkpoint(
    app: FastAPI, client: TestClient, admin_headers
) -> None:
    """Even if the attacker also rewinds the head row, the signed checkpoint remembers."""
    app.state.ctx.settings.audit_checkpoint_every = 2
    _decide(client, admin_headers, 5)
    head4 = "SELECT hash FROM audit_log WHERE seq = 3"
    with app.state.ctx.engine.connect() as conn:
        hash3 = conn.execute(text(head4)).scalar_one()
    _tamper(
        app,
        "DELETE FROM audit_log WHERE seq >= 4",
        f"UPDATE audit_head SET seq = 3, hash = '{hash3}' WHERE id = 1",
    )
    report = _verify(client, admin_headers)
    assert report["ok"] is False
    assert any("record 4: truncated" in p for p in report["problems"])


def test_export_uses_seed_field_names_and_verifies_offline(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    _decide(client, admin_headers, 3)
    r = client.get("/v1/audit/export", headers=admin_headers)
    assert r.status_code == 200
    lines = [json.loads(x) for x in r.text.splitlines()]
    assert len(lines) == 3
    seed_fields = {
        "agent",
        "approver",
        "audit_id",
        "base_mode",
        "environment",
        "inputs",
        "mode",
        "operation",
        "outputs",
        "result",
        "risk_signals",
        "timestamp",
        "seq",
        "prev_hash",
        "hash",
    }
    assert seed_fields <= set(lines[0])
    assert lines[0]["prev_hash"] == chain.GENESIS
    assert chain.verify_lines(lines).ok
    lines[1]["inputs"] = {"context": {"sneaky": True}}
    broken = chain.verify_lines(lines)
    assert not broken.ok
    assert str(broken.problems[0]).startswith("record 2: edited")
