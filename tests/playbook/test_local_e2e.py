"""The playbooks end to end on the local backend: real service processes, real releases.

/rollback during an open P1 (not blocked by it): two humans approve the STOP steps, one the
CONSULT silence, and the previous release serves again. /incident, /secret-breach and /release
run their steps against the same plane.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from factories import local_plane, settled, train_bankchurn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from controlplane.clock import ManualClock
from controlplane.config import Settings
from tests.playbook.conftest import follow, step

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
Headers = dict[str, str]
CUSTOMER = {
    "CreditScore": 600, "Geography": "France", "Gender": "Male", "Age": 40, "Tenure": 3,
    "Balance": 60000.0, "NumOfProducts": 2, "HasCrCard": 1, "IsActiveMember": 1,
    "EstimatedSalary": 50000.0,
}  # fmt: skip


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two bankchurn artifacts (different seeds: two releases)."""
    root = tmp_path_factory.mktemp("artifacts")
    out = {name: train_bankchurn(root / name, seed) for name, seed in (("v1", 3), ("v2", 4))}
    return out


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The repo's playbooks (the conftest's test ones are for the runner tests)."""
    return settings.model_copy(update={"playbook_dir": REPO / "playbooks", "run_poll_s": 0.1})


@pytest.fixture
def plane(
    settings: Settings, clock: ManualClock, artifacts: dict[str, Path]
) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    with local_plane(settings, clock, artifacts) as made:
        yield made


def token(client: TestClient, admin: Headers, name: str, kind: str, roles: list[str]) -> Headers:
    r = client.post("/v1/tokens", json={"name": name, "kind": kind, "roles": roles}, headers=admin)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def deployed(client: TestClient, who: Headers, ref: str) -> dict[str, Any]:
    body = {"service": "bankchurn", "environment": "dev", "release": ref}
    r = client.post("/v1/deployments", json=body, headers=who)
    assert r.status_code == 202, r.text
    return dict(settled(client, who, r.json()))


def approve_all(client: TestClient, run: dict[str, Any], voters: list[Headers]) -> None:
    """Give the paused step the votes it needs, from humans who did not ask."""
    paused = next(s for s in run["steps"] if s["status"] == "pending_approval")
    for who in voters[: paused["required_approvals"]]:
        r = client.post(f"/v1/approvals/{paused['approval_id']}/approve",
                        json={"comment": "go"}, headers=who)  # fmt: skip
        assert r.status_code in (200, 202), r.text


def drive(client: TestClient, who: Headers, run_id: str, voters: list[Headers]) -> dict[str, Any]:
    """Follow a run, approving each paused step, until it ends."""
    for _ in range(12):
        run = follow(client, who, run_id, timeout_s=90)
        if run["status"] != "paused":
            return run
        approve_all(client, run, voters)
        follow(client, who, run_id, timeout_s=10, until=("queued", "running", "waiting",
                                                         "succeeded", "failed"))  # fmt: skip
    raise AssertionError("run kept pausing")


def test_rollback_during_an_open_p1_restores_the_previous_release(plane) -> None:
    app, refs = plane
    with TestClient(app) as client:
        admin = {"Authorization": f"Bearer {app.state.ctx.admin_token}"}
        oncall = token(client, admin, "oncall", "human", ["operator", "approver"])
        bob = token(client, admin, "bob", "human", ["approver"])
        carol = token(client, admin, "carol", "human", ["approver"])
        agent = token(client, admin, "claude-code", "agent", ["operator", "approver"])
        assert deployed(client, oncall, refs["v1"])["status"] == "succeeded"
        assert deployed(client, oncall, refs["v2"])["status"] == "succeeded"
        r = client.post("/v1/incidents", json={"service": "bankchurn", "environment": "dev",
                        "severity": "P1", "title": "5xx after v2"}, headers=oncall)  # fmt: skip
        assert r.status_code in (200, 201), r.text

        text = "/rollback bankchurn env=dev reason='p1 error rate'"
        plan = client.post("/v1/commands", json={"text": text, "dry_run": True}, headers=oncall)
        modes = {s["step_id"]: s["mode"] for s in plan.json()["steps"]}
        # the open P1 escalates nothing here: the rollback is exempt from the incident it fixes
        assert modes == {"confirm": "AUTO", "target": "AUTO", "execute": "STOP",
                         "revert_model": "STOP", "silence": "CONSULT", "verify": "AUTO",
                         "document": "AUTO"}  # fmt: skip

        r = client.post("/v1/commands", json={"text": text}, headers=oncall)
        assert r.status_code == 202, r.text
        run = follow(client, oncall, r.json()["id"], timeout_s=60)
        assert run["status"] == "paused" and step(run, "execute")["status"] == "pending_approval"
        assert step(run, "target")["outputs"]["target_release"] == refs["v1"]
        approval = step(run, "execute")["approval_id"]
        for refused in (oncall, agent):  # the requester and an agent: refused on every path
            vote = client.post(f"/v1/approvals/{approval}/approve", json={"comment": "x"},
                               headers=refused)  # fmt: skip
            assert vote.status_code == 403, vote.text

        done = drive(client, oncall, run["id"], [bob, carol])
        assert done["status"] == "succeeded", done["reason"]
        assert step(done, "execute")["approvers"] == ["bob", "carol"]
        services = {(s["service"], s["environment"]): s
                    for s in client.get("/v1/services", headers=oncall).json()}  # fmt: skip
        serving = services[("bankchurn", "dev")]
        assert serving["release"] == refs["v1"]
        prediction = httpx.post(f"{serving['url']}/predict", json=CUSTOMER, timeout=10)
        assert prediction.status_code == 200, prediction.text
        deps = client.get("/v1/deployments", headers=oncall).json()["data"]
        # the plane's clock is frozen here, so rows tie on created_at: find it by kind
        rollbacks = [d for d in deps if d["kind"] == "rollback"]
        assert [d["release"] for d in rollbacks] == [refs["v1"]], deps
        trail = client.get("/v1/audit", params={"operation": "rollback"}, headers=admin).json()
        events = [(e["result"], e["outputs"].get("event")) for e in trail["data"]]
        assert ("requested", "decided") in events and ("success", None) in events


def test_incident_and_secret_breach_and_release(plane) -> None:
    app, refs = plane
    with TestClient(app) as client:
        admin = {"Authorization": f"Bearer {app.state.ctx.admin_token}"}
        oncall = token(client, admin, "oncall", "human", ["operator", "approver"])
        bob = token(client, admin, "bob", "human", ["approver"])
        carol = token(client, admin, "carol", "human", ["approver"])
        assert deployed(client, oncall, refs["v1"])["status"] == "succeeded"

        text = "/incident bankchurn env=dev psi=0.3 resolve=true"
        r = client.post("/v1/commands", json={"text": text}, headers=oncall)
        run = drive(client, oncall, r.json()["id"], [bob, carol])
        assert run["status"] == "succeeded", run["reason"]
        assert step(run, "classify")["outputs"]["severity"] == "P3"
        assert step(run, "mitigate")["status"] == "skipped"  # only a P1 rolls back
        incident = step(run, "open")["outputs"]["incident_id"]
        shown = client.get("/v1/incidents", headers=oncall).json()
        found = next(i for i in (shown["data"] if isinstance(shown, dict) else shown)
                     if i["id"] == incident)  # fmt: skip
        assert found["status"] == "resolved"

        # /release: each deployment goes through the deployment API's gates and approvals
        text = f"/release bankchurn {refs['v2']} tag=v1.4.0"
        r = client.post("/v1/commands", json={"text": text}, headers=oncall)
        assert r.status_code == 202, r.text
        run_id = r.json()["id"]
        deadline = time.monotonic() + 120
        while True:
            run = client.get(f"/v1/runs/{run_id}", headers=oncall).json()
            if run["status"] in ("succeeded", "failed", "cancelled"):
                break
            staging = step(run, "staging")["outputs"].get("deployment_id")
            if staging:  # the staging deployment's own approval (CONSULT), as for any deploy
                dep = client.get(f"/v1/deployments/{staging}", headers=oncall).json()
                if dep["status"] == "pending_approval":
                    vote = client.post(f"/v1/approvals/{dep['approval_id']}/approve",
                                       json={"comment": "ok"}, headers=bob)  # fmt: skip
                    assert vote.status_code == 202, vote.text
            if time.monotonic() > deadline:
                dev = client.get(
                    f"/v1/deployments/{step(run, 'dev')['outputs']['deployment_id']}",
                    headers=oncall,
                ).json()
                raise AssertionError((run["reason"], dev["decision"]["reasons"], dev["message"]))
            app.state.ctx.clock.advance(timedelta(seconds=3))  # the plane's clock: waits are due
            time.sleep(0.2)
        assert step(run, "dev_done")["status"] == "succeeded"
        assert step(run, "staging_done")["status"] == "succeeded", (
            run["reason"],
            step(run, "staging"),
        )
        # production: asked through the same API, judged by its gates: staging has not soaked
        production = step(run, "production")["outputs"]
        assert production["deployment_id"], run
        dep = client.get(f"/v1/deployments/{production['deployment_id']}", headers=oncall).json()
        assert (run["status"], dep["status"]) == ("failed", "blocked")
        assert "soak_time" in run["reason"]  # the run says why, with the gate's own words

        store = app.state.ctx.playbooks.tools.secrets
        store.put("ci-deploy-token", "ghp_" + "A" * 36)
        text = "/secret-breach kind=github_pat where=ci-logs leaked=ci-deploy-token env=dev"
        r = client.post("/v1/commands", json={"text": text}, headers=oncall)
        assert r.status_code == 202, r.text
        run = drive(client, oncall, r.json()["id"], [bob, carol])
        assert run["status"] == "succeeded", run["reason"]
        assert step(run, "revoke")["mode"] == "STOP" and step(run, "rotate")["mode"] == "STOP"
        assert [v.state for v in store.versions("ci-deploy-token")] == ["revoked", "active"]
        assert "AAAAAAAA" not in str(client.get(f"/v1/runs/{run['id']}", headers=oncall).json())
        export = client.get("/v1/audit", params={"limit": 500}, headers=admin).text
        assert "AAAAAAAA" not in export
