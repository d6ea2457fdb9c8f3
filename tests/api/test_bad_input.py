"""Bad input gets a 4xx naming the field and the reason, and changes nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message", "details"} <= set(body["error"])
    return body["error"]


def test_malformed_json_is_400(client: TestClient, admin_headers) -> None:
    r = client.post(
        "/v1/decisions",
        content=b'{"operation": ',
        headers={**admin_headers, "content-type": "application/json"},
    )
    assert r.status_code == 400
    assert _error(r)["code"] == "malformed_json"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"operation": "deploy", "environment": "moon"}, "body.environment"),
        ({"operation": "deploy"}, "body.environment"),
        ({"operation": 42, "environment": "dev"}, "body.operation"),
        ({"operation": "Deploy Now!", "environment": "dev"}, "body.operation"),
        ({"operation": "deploy", "environment": "dev", "service": "Bank Churn"}, "body.service"),
        ({"operation": "deploy", "environment": "dev", "surprise": 1}, "body.surprise"),
    ],
)
def test_invalid_decision_request_names_the_field(
    client: TestClient, admin_headers, body, field
) -> None:
    r = client.post("/v1/decisions", json=body, headers=admin_headers)
    assert r.status_code == 422
    error = _error(r)
    assert field in [e["field"] for e in error["details"]["errors"]]
    records = client.get("/v1/audit", headers=admin_headers).json()["data"]
    assert [r["result"] for r in records] == ["refused"], "a refusal is recorded, nothing else"
    assert records[0]["outputs"]["code"] == "invalid_request"


def test_oversized_body_is_413(client: TestClient, admin_headers) -> None:
    body = (
        b'{"operation":"deploy","environment":"dev","context":{"x":"'
        + b"a" * (1024 * 1024)
        + b'"}}'
    )
    r = client.post(
        "/v1/decisions", content=body, headers={**admin_headers, "content-type": "application/json"}
    )
    assert r.status_code == 413
    assert _error(r)["details"]["limit_bytes"] == 1024 * 1024


def test_unknown_signal_name_is_422(client: TestClient, admin_headers) -> None:
    r = client.put(
        "/v1/signals/moon_phase", json={"ttl": "1h", "reason": "full moon"}, headers=admin_headers
    )
    assert r.status_code == 422
    assert "path.name" in [e["field"] for e in _error(r)["details"]["errors"]]


@pytest.mark.parametrize("ttl", ["forever", "0m", "8d", "-5m", "10"])
def test_bad_override_ttl_is_422(client: TestClient, admin_headers, ttl: str) -> None:
    r = client.put(
        "/v1/signals/off_hours", json={"ttl": ttl, "reason": "change window"}, headers=admin_headers
    )
    assert r.status_code == 422
    assert "body.ttl" in [e["field"] for e in _error(r)["details"]["errors"]]


def test_clearing_a_missing_override_is_404(client: TestClient, admin_headers) -> None:
    r = client.delete("/v1/signals/off_hours", headers=admin_headers)
    assert r.status_code == 404


def test_drift_report_with_reversed_window_is_422(client: TestClient, admin_headers) -> None:
    r = client.post(
        "/v1/drift-reports",
        headers=admin_headers,
        json={
            "service": "bankchurn",
            "window_start": "2026-11-25T00:00:00Z",
            "window_end": "2026-11-24T00:00:00Z",
            "features": [{"name": "Age", "psi": 0.1, "threshold": 0.2}],
            "retrain_recommendation": "none",
        },
    )
    assert r.status_code == 422


def test_unknown_route_is_404_in_the_error_envelope(client: TestClient) -> None:
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404 and _error(r)["code"] == "not_found"


def test_resolving_twice_is_409(client: TestClient, admin_headers) -> None:
    i = client.post(
        "/v1/incidents",
        json={"severity": "P2", "title": "x", "environment": "dev"},
        headers=admin_headers,
    ).json()
    ok = client.post(
        f"/v1/incidents/{i['id']}/resolve", json={"resolution": "fixed"}, headers=admin_headers
    )
    again = client.post(
        f"/v1/incidents/{i['id']}/resolve", json={"resolution": "fixed"}, headers=admin_headers
    )
    assert ok.status_code == 200 and again.status_code == 409
