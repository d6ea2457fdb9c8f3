"""Journey 2 and 3: an agent ships through dev, staging and production; humans approve."""

from __future__ import annotations

from datetime import timedelta

from factories import settled
from fastapi.testclient import TestClient

from controlplane.adapters.workload.fake import FakeWorkloadBackend
from controlplane.clock import ManualClock
from tests.delivery.conftest import DIGEST_B, deploy_body


def _deploy(client: TestClient, headers: dict[str, str], body: dict) -> tuple[int, dict]:
    """Ask, then follow what the plane's worker makes of it (the answer itself is a 202)."""
    r = client.post("/v1/deployments", json=body, headers=headers)
    out = r.json()
    return r.status_code, settled(client, headers, out) if r.status_code == 202 else out


def _approve(client: TestClient, dep: dict, headers: dict[str, str], **body: str):
    """Vote; when it completes the quorum the answer is a 202 and the rollout follows."""
    r = client.post(f"/v1/approvals/{dep['approval_id']}/approve", json=body, headers=headers)
    if r.status_code == 202:
        settled(client, headers, {"id": dep["id"], "status": "approved"})
    return r


def _ship_to_staging(client: TestClient, people) -> dict:
    code, dev = _deploy(client, people["agent"], deploy_body("dev"))
    assert code == 202 and dev["status"] == "succeeded", dev
    code, staging = _deploy(client, people["agent"], deploy_body("staging"))
    assert code == 202 and staging["status"] == "pending_approval", staging
    return staging


def test_dev_deploy_is_auto_and_verified(
    client: TestClient, people, workloads: FakeWorkloadBackend
) -> None:
    r = client.post("/v1/deployments", json=deploy_body("dev"), headers=people["agent"])
    assert r.status_code == 202 and r.json()["status"] == "approved"  # answered before it runs
    dep = settled(client, people["agent"], r.json())
    assert dep["status"] == "succeeded" and dep["mode"] == "AUTO"
    assert dep["step"] is None and dep["executed_by"] == "controlplane"
    assert dep["health"]["healthy"] is True
    assert workloads.running["bankchurn/dev"] == dep["release"]


def test_staging_waits_for_one_human_then_runs(client: TestClient, people, workloads) -> None:
    staging = _ship_to_staging(client, people)
    assert staging["message"].startswith("CONSULT: pending approval 0 of 1")
    assert "bankchurn/staging" not in workloads.running
    queue = client.get("/v1/approvals?status=pending", headers=people["bob"]).json()
    assert queue["count"] == 1 and queue["data"][0]["requester"] == "claude-code"
    r = _approve(client, staging, people["bob"], comment="looks good")
    assert r.status_code == 202, r.text  # the quorum is reached; the rollout runs off the request
    assert r.json()["status"] == "approved"
    done = client.get(f"/v1/deployments/{staging['id']}", headers=people["bob"]).json()
    assert done["status"] == "succeeded" and done["approvals"] == 1
    assert workloads.running["bankchurn/staging"] == staging["release"]


def test_agent_ci_and_requester_cannot_approve(client: TestClient, people, token_for) -> None:
    staging = _ship_to_staging(client, people)
    url = f"/v1/approvals/{staging['approval_id']}/approve"
    assert client.post(url, json={}, headers=people["agent"]).status_code == 403
    # Even an agent that was given the approver role is refused for what it is, not its role.
    agent_approver = token_for(name="rogue-agent", kind="agent", roles=("approver",))
    refused = client.post(url, json={}, headers=agent_approver)
    assert (
        refused.status_code == 403 and "only humans approve" in refused.json()["error"]["message"]
    )
    ci = client.post(url, json={}, headers=people["ci"])
    assert ci.status_code == 403 and "only humans approve" in ci.json()["error"]["message"]
    alice_asks = client.post(
        "/v1/deployments", json=deploy_body("staging", DIGEST_B), headers=people["alice"]
    )
    assert alice_asks.status_code == 409  # B never ran in dev: promotion chain refuses
    pending = client.get(f"/v1/deployments/{staging['id']}", headers=people["bob"]).json()
    assert pending["status"] == "pending_approval"


def test_self_approval_is_refused(client: TestClient, people) -> None:
    _deploy(client, people["alice"], deploy_body("dev"))
    code, staging = _deploy(client, people["alice"], deploy_body("staging"))
    assert code == 202
    r = client.post(
        f"/v1/approvals/{staging['approval_id']}/approve", json={}, headers=people["alice"]
    )
    assert r.status_code == 403 and "self-approval" in r.json()["error"]["message"]


def test_approving_twice_and_after_finish_is_409(client: TestClient, people) -> None:
    staging = _ship_to_staging(client, people)
    url = f"/v1/approvals/{staging['approval_id']}/approve"
    assert _approve(client, staging, people["bob"]).status_code == 202
    again = client.post(url, json={}, headers=people["bob"])
    assert again.status_code == 409
    late = client.post(url, json={}, headers=people["alice"])
    assert late.status_code == 409 and late.json()["error"]["details"]["status"] == "approved"


def test_rejection_ends_the_request(client: TestClient, people, workloads) -> None:
    staging = _ship_to_staging(client, people)
    url = f"/v1/approvals/{staging['approval_id']}/reject"
    no_reason = client.post(url, json={}, headers=people["bob"])
    assert (
        no_reason.status_code == 422 and no_reason.json()["error"]["details"]["field"] == "comment"
    )
    r = client.post(url, json={"comment": "not during the demo"}, headers=people["bob"])
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    dep = client.get(f"/v1/deployments/{staging['id']}", headers=people["bob"]).json()
    assert dep["status"] == "rejected" and "bankchurn/staging" not in workloads.running


def test_expired_approval_cannot_be_approved(
    client: TestClient, people, clock: ManualClock
) -> None:
    staging = _ship_to_staging(client, people)
    clock.advance(timedelta(hours=25))
    r = client.post(
        f"/v1/approvals/{staging['approval_id']}/approve", json={}, headers=people["bob"]
    )
    assert r.status_code == 409 and r.json()["error"]["details"]["status"] == "expired"
    dep = client.get(f"/v1/deployments/{staging['id']}", headers=people["bob"]).json()
    assert dep["status"] == "expired"


def test_production_refused_before_soak_and_accepted_after(
    client: TestClient, people, clock
) -> None:
    staging = _ship_to_staging(client, people)
    _approve(client, staging, people["bob"])
    clock.advance(timedelta(minutes=4))
    code, refused = _deploy(client, people["agent"], deploy_body("production"))
    assert code == 409, refused
    error = refused["error"]
    assert error["code"] == "gates_refused"
    assert "staging healthy for 4 of 15 min" in error["message"]
    assert error["details"]["retry_after"]
    clock.advance(timedelta(minutes=11))
    code, prod = _deploy(client, people["agent"], deploy_body("production"))
    assert code == 202 and prod["mode"] == "STOP" and prod["required_approvals"] == 2


def test_production_needs_two_distinct_humans(client: TestClient, people, clock, workloads) -> None:
    staging = _ship_to_staging(client, people)
    _approve(client, staging, people["bob"])
    clock.advance(timedelta(minutes=16))
    _, prod = _deploy(client, people["agent"], deploy_body("production"))
    first = _approve(client, prod, people["alice"], comment="ok")
    assert first.status_code == 200 and first.json()["status"] == "pending"
    assert "bankchurn/production" not in workloads.running
    second = _approve(client, prod, people["bob"], comment="ok")
    assert second.status_code == 202 and second.json()["status"] == "approved"
    assert workloads.running["bankchurn/production"] == prod["release"]


def test_incident_between_approval_and_execution_voids_the_approval(
    client: TestClient, people, clock, workloads, app
) -> None:
    """The approval is bound to the risk snapshot: a stricter mode at execution waits again."""
    staging = _ship_to_staging(client, people)
    client.post(
        "/v1/incidents",
        json={"severity": "P1", "title": "5xx", "service": "bankchurn"},
        headers=people["alice"],
    )
    r = _approve(client, staging, people["bob"])
    assert r.status_code == 202
    dep = client.get(f"/v1/deployments/{staging['id']}", headers=people["bob"]).json()
    assert dep["status"] == "pending_approval" and dep["mode"] == "STOP"
    assert dep["approval_id"] != staging["approval_id"]
    old = client.get(f"/v1/approvals/{staging['approval_id']}", headers=people["bob"]).json()
    assert old["status"] == "voided" and "STOP" in old["closed_reason"]
    assert "bankchurn/staging" not in workloads.running


def test_release_that_never_gets_ready_keeps_the_old_one(
    client: TestClient, people, workloads
) -> None:
    _deploy(client, people["agent"], deploy_body("dev"))
    workloads.never_ready.add(f"bankchurn@sha256:{DIGEST_B}")
    _, dep = _deploy(client, people["agent"], deploy_body("dev", DIGEST_B))
    assert dep["status"] == "failed" and "previous release kept serving" in dep["failure_reason"]
    assert dep["cause"]["stage"] == "rollout" and dep["cause"]["reason"]
    assert workloads.running["bankchurn/dev"].endswith("ab" * 32)


def test_unhealthy_release_is_restored_and_recorded(client: TestClient, people, workloads) -> None:
    _deploy(client, people["agent"], deploy_body("dev"))
    workloads.unhealthy.add(f"bankchurn@sha256:{DIGEST_B}")
    _, dep = _deploy(client, people["agent"], deploy_body("dev", DIGEST_B))
    assert dep["status"] == "rolled_back"
    assert workloads.running["bankchurn/dev"].endswith("ab" * 32)
    lines = client.get("/v1/audit?operation=rollback.auto", headers=people["bob"]).json()["data"]
    assert lines and lines[0]["outputs"]["restored_release"].endswith("ab" * 32)


def test_bad_requests_are_clear_4xx(client: TestClient, people) -> None:
    bad = deploy_body("staging", release="bankchurn:latest")
    r = client.post("/v1/deployments", json=bad, headers=people["agent"])
    assert r.status_code == 422 and "release" in r.text
    other = deploy_body("staging")
    other["security_audit"]["release"] = f"bankchurn@sha256:{DIGEST_B}"
    r = client.post("/v1/deployments", json=other, headers=people["agent"])
    assert r.status_code == 422 and "audit_matches_release" in r.text
    r = client.post(
        "/v1/deployments", json=deploy_body("production", release_tag=None), headers=people["agent"]
    )
    assert r.status_code == 422 and "production_requires_release_tag" in r.text
    r = client.post(
        "/v1/deployments", json=deploy_body("dev", service="fraud"), headers=people["agent"]
    )
    assert r.status_code == 422
    assert client.get("/v1/deployments", headers=people["bob"]).json()["count"] == 0


def test_rollout_interrupted_by_a_plane_stop_is_failed_on_the_next_start(
    client: TestClient, people, app, clock
) -> None:
    """A deployment left `executing` by a crashed plane does not stay in limbo forever."""
    from sqlalchemy import text

    _, dep = _deploy(client, people["agent"], deploy_body("dev"))
    with app.state.ctx.engine.begin() as conn:
        conn.execute(
            text("UPDATE deployment SET status = 'executing' WHERE id = :id"), {"id": dep["id"]}
        )
    assert app.state.ctx.executor.recover_interrupted() == []  # too recent: maybe running
    clock.advance(timedelta(minutes=11))
    assert app.state.ctx.executor.recover_interrupted() == [dep["id"]]
    after = client.get(f"/v1/deployments/{dep['id']}", headers=people["bob"]).json()
    assert after["status"] == "failed" and "plane stopped" in after["failure_reason"]
    lines = client.get("/v1/audit?operation=deploy.execute&result=failure", headers=people["bob"])
    assert lines.json()["data"][-1]["agent"] == "controlplane"


def test_declared_freeze_refuses_and_a_broken_freeze_file_freezes_everything(
    client: TestClient, people, app, tmp_path
) -> None:
    freeze = tmp_path / "freeze.yaml"
    app.state.ctx.settings.freeze_file = freeze
    freeze.write_text(
        "freezes:\n  - start: 2026-11-25T00:00:00Z\n    end: 2026-11-26T00:00:00Z\n"
        "    reason: quarter-end close\n    environments: [staging]\n"
    )
    assert _deploy(client, people["agent"], deploy_body("dev"))[1]["status"] == "succeeded"
    code, refused = _deploy(client, people["agent"], deploy_body("staging"))
    assert code == 409 and "quarter-end close" in refused["error"]["message"]
    freeze.write_text("freezes: [oops")
    code, frozen = _deploy(client, people["agent"], deploy_body("dev", DIGEST_B))
    assert code == 409 and "unreadable" in frozen["error"]["message"]


def test_a_deployment_left_approved_by_a_stopped_plane_runs_without_a_wake_up(
    app, client: TestClient, people
) -> None:
    """The plane stopped between the approving commit and the rollout: nobody wakes the worker
    for it (its approval is closed), so the worker's own pass finds it and runs it, once."""
    from sqlalchemy import text

    staging = _ship_to_staging(client, people)
    with app.state.ctx.engine.begin() as conn:
        conn.execute(
            text("UPDATE deployment SET status = 'approved' WHERE id = :id"), {"id": staging["id"]}
        )
    after = settled(client, people["bob"], {"id": staging["id"], "status": "approved"})
    assert after["status"] == "succeeded" and after["executed_by"] == "controlplane"
    assert app.state.ctx.worker.run_pending() == []
