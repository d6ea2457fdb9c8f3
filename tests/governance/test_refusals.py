"""Refusals are recorded: who tried what and why not, bounded per caller; anonymous ones counted."""

from __future__ import annotations

from fastapi.testclient import TestClient

from .conftest import refusals


def _metric(client: TestClient, line_start: str) -> float:
    text = client.get("/metrics").text
    found = [ln for ln in text.splitlines() if ln.startswith(line_start)]
    return float(found[0].rsplit(" ", 1)[1]) if found else 0.0


def test_each_kind_of_refusal_by_a_known_caller_is_recorded_with_its_reason(
    client: TestClient, people, admin_headers
) -> None:
    agent = people["agent"]
    client.post("/v1/tokens", json={"name": "x"}, headers=agent)  # 403: not an admin
    client.post("/v1/incidents", json={"severity": "P9", "title": "x"}, headers=agent)  # 422
    client.post("/v1/incidents/nope/resolve", json={"resolution": "x"}, headers=agent)  # 404
    records = refusals(client, admin_headers, "claude-code")
    assert [r["outputs"]["status"] for r in records] == [403, 422, 404]
    assert records[0]["operation"] == "POST /v1/tokens"
    assert "admin" in records[0]["outputs"]["reason"]
    assert records[2]["inputs"] == {"method": "POST", "path": "/v1/incidents/nope/resolve"}
    assert all(r["agent"] == "claude-code" and r["actor_kind"] == "agent" for r in records)


def test_refusals_are_recorded_at_most_n_per_minute_per_caller_and_counted_beyond(
    client: TestClient, people, admin_headers, settings
) -> None:
    limit = settings.refusal_records_per_minute
    for _ in range(limit + 5):
        r = client.post("/v1/tokens", json={"name": "x"}, headers=people["agent"])
        assert r.status_code == 403
    assert len(refusals(client, admin_headers, "claude-code")) == limit
    assert _metric(client, 'controlplane_refusals_total{code="forbidden",recorded="yes"}') == limit
    assert _metric(client, 'controlplane_refusals_total{code="forbidden",recorded="no"}') == 5
    # another caller has a budget of its own
    client.post("/v1/tokens", json={"name": "x"}, headers=people["bob"])
    assert len(refusals(client, admin_headers, "bob")) == 1


def test_anonymous_refusals_are_counted_not_recorded(client: TestClient, admin_headers) -> None:
    before = client.get("/v1/audit", headers=admin_headers).json()["count"]
    for _ in range(3):
        assert client.post("/v1/incidents", json={}).status_code == 401
        assert (
            client.post(
                "/v1/incidents", json={}, headers={"Authorization": "Bearer no"}
            ).status_code
            == 401
        )
    assert client.get("/v1/audit", headers=admin_headers).json()["count"] == before
    assert _metric(client, "controlplane_unauthenticated_total") == 6


def test_reads_are_not_refusals(client: TestClient, people, admin_headers) -> None:
    assert client.get("/v1/tokens", headers=people["agent"]).status_code == 403
    assert refusals(client, admin_headers, "claude-code") == []
