"""The attacks of issue 8, each tried as an agent would: the plane's own operations hold."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from controlplane.clock import ManualClock

from .conftest import approve, decide, refusals, signal

P1 = {"severity": "P1", "title": "bankchurn 5xx", "service": "bankchurn"}


def test_an_agent_cannot_turn_off_a_real_incident(client: TestClient, people, admin_headers):
    """PUT incident_active inactive during a P1: refused, recorded, nothing relaxed."""
    assert client.post("/v1/incidents", json=P1, headers=people["alice"]).status_code == 201
    before = (decide(client, people["agent"], "staging"), decide(client, people["agent"], "dev"))
    r = client.put(
        "/v1/signals/incident_active",
        json={"state": "inactive", "ttl": "1h", "reason": "just ship it", "service": "bankchurn"},
        headers=people["agent"],
    )
    assert r.status_code == 403, r.text
    assert "signal.suppress" in r.json()["error"]["message"]
    after = (decide(client, people["agent"], "staging"), decide(client, people["agent"], "dev"))
    assert before == after == ("STOP", "CONSULT")
    deploy = {"service": "bankchurn", "environment": "dev", "release": "bankchurn:dev"}
    asked = client.post("/v1/deployments", json=deploy, headers=people["agent"])
    assert asked.status_code == 202 and asked.json()["status"] == "pending_approval"
    [refused] = refusals(client, admin_headers, "claude-code")
    assert refused["operation"] == "signal.suppress"
    assert refused["outputs"]["code"] == "forbidden"


def test_ci_cannot_suppress_either(client: TestClient, people, admin_headers):
    r = client.put(
        "/v1/signals/drift_severe",
        json={"state": "inactive", "ttl": "1h", "reason": "noise"},
        headers=people["ci"],
    )
    assert r.status_code == 403
    assert refusals(client, admin_headers, "ci-bot")[0]["operation"] == "signal.suppress"


def test_an_agent_cannot_clear_a_humans_raise(client: TestClient, people, admin_headers):
    raised = client.put(
        "/v1/signals/incident_active",
        json={"ttl": "2h", "reason": "watching a bad canary", "service": "bankchurn"},
        headers=people["alice"],
    )
    assert raised.status_code == 200, raised.text
    r = client.delete("/v1/signals/incident_active?service=bankchurn", headers=people["agent"])
    assert r.status_code == 403, r.text
    assert signal(client, people["agent"], "incident_active", service="bankchurn")["state"] == (
        "active"
    )
    assert refusals(client, admin_headers, "claude-code")[0]["operation"] == "signal.suppress"
    # the one who raised it may take it back at once
    mine = client.delete("/v1/signals/incident_active?service=bankchurn", headers=people["alice"])
    assert mine.status_code == 200 and mine.json()["cleared"] == [raised.json()["id"]]


def test_an_agent_can_raise_and_clear_its_own(client: TestClient, people):
    """The safe direction stays an operator's call, agents included."""
    body = {"ttl": "10m", "reason": "my canary looks odd", "service": "nlpinsight"}
    assert (
        client.put("/v1/signals/off_hours", json=body, headers=people["agent"]).status_code == 200
    )
    assert decide(client, people["agent"], "staging", "nlpinsight") == "STOP"
    r = client.delete("/v1/signals/off_hours?service=nlpinsight", headers=people["agent"])
    assert r.status_code == 200


def test_an_agent_resolving_a_humans_p1_waits_for_a_human(
    client: TestClient, people, admin_headers
):
    incident = client.post(
        "/v1/incidents", json={**P1, "environment": "dev"}, headers=people["alice"]
    )
    assert incident.status_code == 201
    r = client.post(
        f"/v1/incidents/{incident.json()['id']}/resolve",
        json={"resolution": "looks fine to me"},
        headers=people["agent"],
    )
    assert r.status_code == 202, r.text
    action = r.json()
    assert action["kind"] == "incident.resolve" and action["mode"] == "CONSULT"
    assert "machine-resolves-blocking-incident" in " ".join(action["decision"]["reasons"])
    assert decide(client, people["agent"], "dev") == "CONSULT"  # still open
    assert approve(client, people["agent"], action["approval_id"]).status_code == 403
    assert approve(client, people["ci"], action["approval_id"]).status_code == 403
    assert approve(client, people["bob"], action["approval_id"]).status_code == 200
    done = client.get(f"/v1/actions/{action['id']}", headers=people["bob"]).json()
    assert done["status"] == "succeeded" and done["executed_by"] == "bob"
    assert decide(client, people["agent"], "dev") == "AUTO"
    assert [
        i["status"] for i in client.get("/v1/incidents", headers=people["bob"]).json()["data"]
    ] == ["resolved"]


def test_resolving_an_incident_of_every_environment_is_judged_as_production(
    client: TestClient, people
):
    """No environment means it covers production: incident.resolve is CONSULT there."""
    incident = client.post("/v1/incidents", json=P1, headers=people["alice"]).json()
    r = client.post(
        f"/v1/incidents/{incident['id']}/resolve",
        json={"resolution": "rolled back"},
        headers=people["alice"],
    )
    assert r.status_code == 202 and r.json()["environment"] == "production"
    assert approve(client, people["alice"], r.json()["approval_id"]).status_code == 403  # own
    assert approve(client, people["bob"], r.json()["approval_id"]).status_code == 200
    assert client.get("/v1/incidents?status=open", headers=people["bob"]).json()["count"] == 0


def _drift(psi: float) -> dict[str, object]:
    severe = psi > 0.4
    return {
        "service": "bankchurn",
        "window_start": "2026-11-24T00:00:00Z",
        "window_end": "2026-11-25T00:00:00Z",
        "features": [{"name": "Age", "psi": psi, "threshold": 0.2}],
        "retrain_recommendation": "hard" if severe else "none",
    }


def test_an_agent_cannot_clear_severe_drift_with_a_harmless_report(
    client: TestClient, people, clock: ManualClock
):
    def drift_state() -> str:
        return str(signal(client, people["bob"], "drift_severe", service="bankchurn")["state"])

    posted = client.post("/v1/drift-reports", json=_drift(0.9), headers=people["drift-job"])
    assert posted.status_code == 201 and posted.json()["reported_by"] == "bankchurn-drift"
    clock.advance(timedelta(minutes=1))
    harmless = client.post("/v1/drift-reports", json=_drift(0.01), headers=people["agent"])
    assert harmless.status_code == 201
    assert drift_state() == "active", "another identity's report does not clear it"
    clock.advance(timedelta(minutes=1))
    client.post("/v1/drift-reports", json=_drift(0.01), headers=people["drift-job"])
    assert drift_state() == "inactive", "the drift job's own newer report does"


def test_drift_baseline_update_is_governed_and_clears_what_came_before(
    client: TestClient, people, clock: ManualClock
):
    client.post("/v1/drift-reports", json=_drift(0.9), headers=people["drift-job"])
    clock.advance(timedelta(minutes=1))
    body = {"service": "bankchurn", "reason": "new training window accepted"}
    asked = client.post("/v1/drift-baselines", json=body, headers=people["agent"])
    assert asked.status_code == 202, asked.text
    assert signal(client, people["bob"], "drift_severe", service="bankchurn")["state"] == "active"
    assert approve(client, people["bob"], asked.json()["approval_id"]).status_code == 200
    assert signal(client, people["bob"], "drift_severe", service="bankchurn")["state"] == (
        "inactive"
    )
    clock.advance(timedelta(minutes=1))
    client.post("/v1/drift-reports", json=_drift(0.9), headers=people["drift-job"])
    assert signal(client, people["bob"], "drift_severe", service="bankchurn")["state"] == "active"


def test_a_suppression_needs_two_other_humans_in_production_and_shows_the_real_reading(
    client: TestClient, people
):
    client.post("/v1/incidents", json=P1, headers=people["alice"])
    asked = client.put(
        "/v1/signals/incident_active",
        json={
            "state": "inactive",
            "ttl": "30m",
            "reason": "known noisy alert",
            "service": "bankchurn",
        },
        headers=people["alice"],
    )
    assert asked.status_code == 202, asked.text
    action = asked.json()
    assert (action["mode"], action["required_approvals"]) == ("STOP", 2)
    approval = client.get(f"/v1/approvals/{action['approval_id']}", headers=people["bob"]).json()
    assert approval["explanation"]["real_reading"]["state"] == "active"  # what it would hide
    assert approval["explanation"]["would_hide"] is True
    assert approve(client, people["alice"], action["approval_id"]).status_code == 403  # own
    assert approve(client, people["bob"], action["approval_id"]).status_code == 200
    assert decide(client, people["bob"], "staging") == "STOP"  # one of two: nothing changed
    assert approve(client, people["carol"], action["approval_id"]).status_code == 200
    reading = signal(client, people["bob"], "incident_active", service="bankchurn")
    assert (reading["state"], reading["source"]) == ("inactive", "suppression")
    assert reading["evidence"]["real"]["state"] == "active"
    assert reading["evidence"]["approved_by"] == ["bob", "carol"]
    assert "until" in reading["evidence"]
    assert decide(client, people["bob"], "staging") == "CONSULT"  # off_hours not active: base


def test_a_suppression_longer_than_the_policy_allows_is_422(client: TestClient, people):
    r = client.put(
        "/v1/signals/incident_active",
        json={"state": "inactive", "ttl": "5h", "reason": "a long one"},
        headers=people["alice"],
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"]["field"] == "ttl"


def test_a_suppression_without_a_reason_is_422(client: TestClient, people):
    r = client.put(
        "/v1/signals/incident_active",
        json={"state": "inactive", "ttl": "1h"},
        headers=people["alice"],
    )
    assert r.status_code == 422
    fields = [e["field"] for e in r.json()["error"]["details"]["errors"]]
    assert fields == ["body.reason"]


def test_vote_bodies_with_unknown_fields_are_422(client: TestClient, people):
    client.post("/v1/incidents", json=P1, headers=people["alice"])
    asked = client.put(
        "/v1/signals/incident_active",
        json={"state": "inactive", "ttl": "30m", "reason": "noise", "service": "bankchurn"},
        headers=people["alice"],
    ).json()
    r = client.post(
        f"/v1/approvals/{asked['approval_id']}/approve",
        json={"comment": "ok", "force": True},
        headers=people["bob"],
    )
    assert r.status_code == 422
    assert "body.force" in [e["field"] for e in r.json()["error"]["details"]["errors"]]


def test_an_incident_opening_after_approval_voids_a_pending_suppression(client: TestClient, people):
    """A raise of the same request's mode (dev CONSULT -> STOP by escalation) is not exempt:
    here the mode of drift.baseline.update rises when an incident opens, voiding approvals."""
    client.post("/v1/drift-reports", json=_drift(0.9), headers=people["drift-job"])
    asked = client.post(
        "/v1/drift-baselines",
        json={"service": "bankchurn", "reason": "accept the new window"},
        headers=people["agent"],
    ).json()
    assert asked["mode"] == "CONSULT"
    client.post("/v1/incidents", json=P1, headers=people["alice"])
    r = approve(client, people["bob"], asked["approval_id"])
    assert r.status_code == 200 and r.json()["status"] == "voided"
    now = client.get(f"/v1/actions/{asked['id']}", headers=people["bob"]).json()
    assert (now["status"], now["mode"]) == ("pending_approval", "STOP")
    assert now["approval_id"] != asked["approval_id"]


def test_an_approval_past_its_ttl_is_expired_by_the_sweeper_without_a_vote(
    client: TestClient, people, app, clock: ManualClock
):
    client.post("/v1/incidents", json=P1, headers=people["alice"])
    body = {"state": "inactive", "ttl": "30m", "reason": "noise", "service": "bankchurn"}
    asked = client.put("/v1/signals/incident_active", json=body, headers=people["alice"]).json()
    clock.advance(timedelta(hours=1, seconds=1))  # STOP approvals live 1 h
    from sqlmodel import Session

    with Session(app.state.ctx.engine) as session:
        assert app.state.ctx.door.expire_due(session=session) == [asked["approval_id"]]
        session.commit()
    action = client.get(f"/v1/actions/{asked['id']}", headers=people["bob"]).json()
    assert action["status"] == "expired"
    approval = client.get(f"/v1/approvals/{asked['approval_id']}", headers=people["bob"]).json()
    assert approval["status"] == "expired"


def test_a_policy_asking_more_approvers_voids_a_smaller_quorum(
    client: TestClient, people, app, settings, tmp_path
):
    """An approval is bound to the policy: if it now needs more humans, it waits for them."""
    import shutil

    client.post("/v1/drift-reports", json=_drift(0.9), headers=people["drift-job"])
    asked = client.post(
        "/v1/drift-baselines",
        json={"service": "bankchurn", "reason": "accept the new window"},
        headers=people["agent"],
    ).json()
    assert asked["required_approvals"] == 1
    policies = tmp_path / "policies"
    shutil.copytree(settings.policy_dir, policies)
    approvals_yaml = policies / "approvals.yaml"
    approvals_yaml.write_text(
        approvals_yaml.read_text().replace("quorum: {default: 1}", "quorum: {default: 2}")
    )
    store = app.state.ctx.policies
    store.directory = policies
    assert store.reload()
    r = approve(client, people["bob"], asked["approval_id"])
    assert r.status_code == 200 and r.json()["status"] == "voided"
    assert "asks 2 approvals" in r.json()["closed_reason"]
    now = client.get(f"/v1/actions/{asked['id']}", headers=people["bob"]).json()
    assert (now["status"], now["required_approvals"]) == ("pending_approval", 2)
