"""The decisions API: explained answers, live signals, clear refusals of bad input."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from controlplane.clock import ManualClock


def _decide(client: TestClient, headers: dict[str, str], **body: object) -> dict:
    r = client.post("/v1/decisions", json=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_production_deploy_is_stop_with_reasons(client: TestClient, admin_headers) -> None:
    d = _decide(
        client, admin_headers, operation="deploy", environment="production", service="bankchurn"
    )
    assert d["base_mode"] == "STOP" and d["final_mode"] == "STOP"
    assert d["required_approvals"] == 2
    assert d["recorded"] is True
    assert {s["name"] for s in d["signals"]} == {
        "incident_active",
        "drift_severe",
        "error_budget_exhausted",
        "off_hours",
        "recent_rollback",
    }
    budget = next(s for s in d["signals"] if s["name"] == "error_budget_exhausted")
    assert budget["state"] == "disabled"  # no Prometheus configured: listed, not "fine"
    assert len(d["policy_version"]) == 64
    assert d["reasons"]


def test_override_escalates_dev_deploy_and_says_why(client: TestClient, admin_headers) -> None:
    assert (
        _decide(client, admin_headers, operation="deploy", environment="dev")["final_mode"]
        == "AUTO"
    )
    r = client.put(
        "/v1/signals/incident_active",
        json={"ttl": "30m", "reason": "P1 bankchurn 5xx"},
        headers=admin_headers,
    )
    assert r.status_code == 200, r.text
    d = _decide(client, admin_headers, operation="deploy", environment="dev", service="bankchurn")
    assert d["final_mode"] == "CONSULT"
    assert "incident_active" in d["counterfactual"]
    sig = next(s for s in d["signals"] if s["name"] == "incident_active")
    assert sig["source"] == "override" and sig["evidence"]["reason"] == "P1 bankchurn 5xx"


def test_override_expires_after_its_ttl(
    client: TestClient, admin_headers, clock: ManualClock
) -> None:
    client.put(
        "/v1/signals/drift_severe",
        json={"ttl": "10m", "reason": "manual test"},
        headers=admin_headers,
    )
    assert (
        _decide(client, admin_headers, operation="deploy", environment="dev")["final_mode"]
        == "CONSULT"
    )
    clock.advance(timedelta(minutes=11))
    assert (
        _decide(client, admin_headers, operation="deploy", environment="dev")["final_mode"]
        == "AUTO"
    )


def test_open_p1_incident_escalates_only_its_service(client: TestClient, admin_headers) -> None:
    r = client.post(
        "/v1/incidents",
        json={"severity": "P1", "title": "5xx", "service": "bankchurn", "environment": "dev"},
        headers=admin_headers,
    )
    assert r.status_code == 201
    hit = _decide(client, admin_headers, operation="deploy", environment="dev", service="bankchurn")
    other = _decide(
        client, admin_headers, operation="deploy", environment="dev", service="nlpinsight"
    )
    assert hit["final_mode"] == "CONSULT" and other["final_mode"] == "AUTO"
    client.post(
        f"/v1/incidents/{r.json()['id']}/resolve",
        json={"resolution": "rolled back"},
        headers=admin_headers,
    )
    again = _decide(
        client, admin_headers, operation="deploy", environment="dev", service="bankchurn"
    )
    assert again["final_mode"] == "AUTO"


def test_p3_incident_does_not_escalate(client: TestClient, admin_headers) -> None:
    client.post("/v1/incidents", json={"severity": "P3", "title": "slow"}, headers=admin_headers)
    assert (
        _decide(client, admin_headers, operation="deploy", environment="dev")["final_mode"]
        == "AUTO"
    )


def test_rollback_is_not_blocked_by_the_incident_it_fixes(
    client: TestClient, admin_headers
) -> None:
    client.post("/v1/incidents", json={"severity": "P1", "title": "5xx"}, headers=admin_headers)
    d = _decide(client, admin_headers, operation="rollback", environment="production")
    incident = next(s for s in d["signals"] if s["name"] == "incident_active")
    assert incident["state"] == "active" and incident["counted"] is False


def test_severe_drift_report_escalates_its_service(client: TestClient, admin_headers) -> None:
    report = {
        "service": "bankchurn",
        "window_start": "2026-11-24T00:00:00Z",
        "window_end": "2026-11-25T00:00:00Z",
        "features": [
            {"name": "Age", "psi": 0.45, "threshold": 0.2},
            {"name": "Tenure", "psi": 0.01, "threshold": 0.2},
        ],
        "retrain_recommendation": "hard",
    }
    r = client.post("/v1/drift-reports", json=report, headers=admin_headers)
    assert r.status_code == 201, r.text
    assert r.json()["severe"] is True and r.json()["severe_features"] == ["Age"]
    d = _decide(client, admin_headers, operation="deploy", environment="dev", service="bankchurn")
    assert d["final_mode"] == "CONSULT"


def test_off_hours_applies_to_staging_not_dev(
    client: TestClient, admin_headers, clock: ManualClock
) -> None:
    clock.advance(timedelta(hours=12))  # Wednesday 22:00 UTC
    assert (
        _decide(client, admin_headers, operation="deploy", environment="dev")["final_mode"]
        == "AUTO"
    )
    staging = _decide(client, admin_headers, operation="deploy", environment="staging")
    assert staging["final_mode"] == "STOP"


def test_unknown_operation_is_stop(client: TestClient, admin_headers) -> None:
    d = _decide(client, admin_headers, operation="launch.missiles", environment="dev")
    assert d["final_mode"] == "STOP"
    assert any("not in the policy" in r for r in d["reasons"])


def test_dry_run_is_not_recorded(client: TestClient, admin_headers) -> None:
    d = _decide(client, admin_headers, operation="deploy", environment="dev", dry_run=True)
    assert d["recorded"] is False
    assert client.get("/v1/audit", headers=admin_headers).json()["count"] == 0


def test_recorded_decision_can_be_read_back(client: TestClient, admin_headers) -> None:
    d = _decide(client, admin_headers, operation="deploy", environment="staging")
    r = client.get(f"/v1/decisions/{d['decision_id']}", headers=admin_headers)
    assert r.status_code == 200
    assert r.json()["final_mode"] == d["final_mode"] and r.json()["recorded"] is True
    assert r.json()["reasons"] == d["reasons"]


def test_policies_endpoint_lists_version_and_operations(client: TestClient, admin_headers) -> None:
    body = client.get("/v1/policies", headers=admin_headers).json()
    assert len(body["version"]) == 64
    assert body["operations"]["deploy"] == {
        "dev": "AUTO",
        "staging": "CONSULT",
        "production": "STOP",
    }
    assert body["last_error"] is None


def _audit(client: TestClient, headers: dict[str, str], **query: str) -> list[dict]:
    r = client.get("/v1/audit", params=query, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_a_question_is_recorded_as_answered_not_requested(
    client: TestClient, admin_headers
) -> None:
    d = _decide(client, admin_headers, operation="deploy", environment="dev", service="bankchurn")
    [line] = _audit(client, admin_headers, result="answered")
    assert (line["operation"], line["decision_id"], line["seq"]) == (
        "deploy",
        d["decision_id"],
        d["audit_seq"],
    )
    assert _audit(client, admin_headers, result="requested") == []


def test_a_deployment_request_is_still_requested(client: TestClient, admin_headers) -> None:
    body = {"service": "bankchurn", "environment": "dev", "release": "bankchurn@sha256:" + "0" * 64}
    r = client.post("/v1/deployments", json=body, headers=admin_headers)
    assert r.status_code in (200, 201, 202), r.text
    [line] = _audit(client, admin_headers, operation="deploy", result="requested")
    assert line["inputs"]["deployment_id"] == r.json()["id"]
    assert _audit(client, admin_headers, result="answered") == []


def test_an_unknown_service_is_422_and_recorded_as_refused(
    client: TestClient, admin_headers
) -> None:
    body = {"operation": "deploy", "environment": "dev", "service": "bankchrun"}
    r = client.post("/v1/decisions", json=body, headers=admin_headers)
    assert r.status_code == 422, r.text
    [error] = r.json()["error"]["details"]["errors"]
    assert error["field"] == "body.service"
    assert (
        "bankchrun" in error["reason"] and "bankchurn, nlpinsight, chicagotaxi" in error["reason"]
    )
    assert _audit(client, admin_headers, result="answered") == []
    [refused] = _audit(client, admin_headers, result="refused")
    assert refused["operation"] == "POST /v1/decisions"


def test_an_unknown_operation_is_a_recorded_stop_answer(client: TestClient, admin_headers) -> None:
    d = _decide(client, admin_headers, operation="launch.missiles", environment="dev")
    [line] = _audit(client, admin_headers, result="answered")
    assert (line["operation"], line["mode"], line["decision_id"]) == (
        "launch.missiles",
        "STOP",
        d["decision_id"],
    )
