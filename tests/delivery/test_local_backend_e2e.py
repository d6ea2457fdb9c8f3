"""Journey 2 on the embedded default: real service processes, real releases, real health checks."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from factories import local_plane, served, settled, train_bankchurn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from controlplane.adapters.base import Target
from controlplane.adapters.workload.local_process import pid_alive
from controlplane.cli.main import app as opsctl
from controlplane.clock import ManualClock
from controlplane.config import Settings

REPO = Path(__file__).resolve().parents[2]
CUSTOMER = {
    "CreditScore": 600, "Geography": "France", "Gender": "Male", "Age": 40, "Tenure": 3,
    "Balance": 60000.0, "NumOfProducts": 2, "HasCrCard": 1, "IsActiveMember": 1,
    "EstimatedSalary": 50000.0,
}  # fmt: skip

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A good bankchurn artifact, and a consistent-looking copy whose model cannot be loaded."""
    root = tmp_path_factory.mktemp("artifacts")
    good = train_bankchurn(root / "good", seed=3)
    broken = Path(shutil.copytree(good, root / "broken"))
    manifest = json.loads((broken / "manifest.json").read_text())
    model = broken / manifest["model_file"]
    model.write_bytes(b"not a joblib pickle")  # hashes match, but the service cannot load it
    manifest["model_sha256"] = hashlib.sha256(model.read_bytes()).hexdigest()
    (broken / "manifest.json").write_text(json.dumps(manifest))
    return {"good": good, "broken": broken}


@pytest.fixture
def local_app(
    settings: Settings, clock: ManualClock, artifacts: dict[str, Path]
) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    """A plane on the local backend with two built releases: good and never-ready."""
    with local_plane(settings, clock, artifacts, ready_timeout_s=20) as made:
        yield made


def _deploy(client: TestClient, headers: dict[str, str], env: str, ref: str) -> httpx.Response:
    body: dict[str, object] = {"service": "bankchurn", "environment": env, "release": ref}
    if env != "dev":
        release = client.get(f"/v1/releases/bankchurn/{ref.split(':')[-1]}", headers=headers)
        body["security_audit"] = release.json()["security_audit"]
    return client.post("/v1/deployments", json=body, headers=headers)


def _deployed(client: TestClient, headers: dict[str, str], env: str, ref: str) -> dict:
    """Ask (the plane answers 202 at once) and follow the rollout to its end."""
    r = _deploy(client, headers, env, ref)
    assert r.status_code == 202, r.text
    return dict(settled(client, headers, r.json()))


def test_real_processes_through_dev_and_staging(local_app) -> None:
    app, refs = local_app
    with TestClient(app) as client:
        admin = {"Authorization": f"Bearer {app.state.ctx.admin_token}"}
        r = client.post(
            "/v1/tokens",
            json={"name": "bot", "kind": "agent", "roles": ["operator"]},
            headers=admin,
        )
        agent = {"Authorization": f"Bearer {r.json()['token']}"}
        r = client.post(
            "/v1/tokens",
            json={"name": "bob", "kind": "human", "roles": ["approver"]},
            headers=admin,
        )
        bob = {"Authorization": f"Bearer {r.json()['token']}"}

        dev = _deployed(client, agent, "dev", refs["good"])
        assert dev["status"] == "succeeded", dev
        status = {
            (s["service"], s["environment"]): s
            for s in client.get("/v1/services", headers=bob).json()
        }
        url = status[("bankchurn", "dev")]["url"]
        assert httpx.get(f"{url}/ready").status_code == 200
        prediction = httpx.post(f"{url}/predict", json=CUSTOMER).json()
        assert 0.0 <= prediction["churn_probability"] <= 1.0

        broken = _deployed(client, agent, "dev", refs["broken"])
        assert broken["status"] == "failed", broken
        assert "previous release kept serving" in broken["failure_reason"]
        # The cause is where people look: the new process's own last words, not only a timeout.
        assert "refusing artifact" in broken["cause"]["log_tail"], broken["cause"]
        assert "its log says: ERROR" in broken["failure_reason"]
        assert '"GET /ready' not in broken["cause"]["log_tail"]  # the plane's probes are noise
        record = client.get(
            "/v1/audit?operation=deploy.execute&result=failure", headers=bob
        ).json()["data"][-1]
        assert record["outputs"]["cause"]["log_tail"] == broken["cause"]["log_tail"]
        again = {
            (s["service"], s["environment"]): s
            for s in client.get("/v1/services", headers=bob).json()
        }
        assert again[("bankchurn", "dev")]["release"] == refs["good"]
        assert (
            httpx.post(f"{again[('bankchurn', 'dev')]['url']}/predict", json=CUSTOMER).status_code
            == 200
        )

        staging = _deploy(client, agent, "staging", refs["good"])
        assert staging.status_code == 202, staging.text
        approval = staging.json()["approval_id"]
        r = client.post(f"/v1/approvals/{approval}/approve", json={"comment": "ok"}, headers=bob)
        assert r.status_code == 202, r.text
        live = settled(client, bob, {"id": staging.json()["id"], "status": "approved"})
        assert live["status"] == "succeeded", live
        assert live["health"]["ready"] is True

        verify = client.get("/v1/audit/verify", headers=bob).json()
        assert verify["ok"] is True

        dev_process = app.state.ctx.workloads.backend.status(Target("bankchurn", "dev"))
        os.kill(dev_process.details["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while pid_alive(dev_process.details["pid"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        services = {
            (s["service"], s["environment"]): s
            for s in client.get("/v1/services", headers=bob).json()
        }
        killed = services[("bankchurn", "dev")]
        assert (killed["status"], killed["url"]) == ("degraded", url)
        assert (
            killed["detail"] == f"process {dev_process.details['pid']} exited (killed by SIGKILL)"
        )
        assert services[("bankchurn", "staging")]["detail"] is None


def test_the_cli_follows_a_rollout_longer_than_its_http_timeout(local_app, tmp_path) -> None:
    """Each HTTP call may take at most 1 s; a real rollout takes several: the CLI still reports
    success, and a never-ready release reports `failed` with the cause from the process's log."""
    app, refs = local_app
    env = {
        "CONTROLPLANE_TOKEN": app.state.ctx.admin_token,
        "CONTROLPLANE_TIMEOUT": "1",
        "CONTROLPLANE_STATE_DIR": str(tmp_path / "cli"),
    }
    runner = CliRunner()
    with served(app) as url:
        env["CONTROLPLANE_URL"] = url

        def deploy(ref: str):
            args = ["deploy", "bankchurn", "--env", "dev", "--artifact", ref]
            return runner.invoke(opsctl, args, env=env)

        good = deploy(refs["good"])
        assert good.exit_code == 0, good.output
        assert "ran, healthy" in good.stdout
        assert "executing" in good.stderr  # progress lines while it rolled out (not a terminal)
        broken = deploy(refs["broken"])
        assert broken.exit_code == 1, broken.output
        assert "failed" in broken.stdout and "refusing artifact" in broken.stdout
        assert "last lines of the new process's log" in broken.stdout
        failed_log = runner.invoke(
            opsctl,
            ["logs", "bankchurn", "-e", "dev", "--release", refs["broken"], "-n", "1000"],
            env=env,
        )
        assert failed_log.exit_code == 0 and "refusing artifact" in failed_log.stdout
        live_log = runner.invoke(opsctl, ["logs", "bankchurn", "--env", "dev", "--json"], env=env)
        assert json.loads(live_log.stdout)["release"] == refs["good"], live_log.output
        unknown = runner.invoke(opsctl, ["logs", "fraud", "--env", "dev", "--json"], env=env)
        error = json.loads(unknown.stdout)["error"]  # refused by the path's schema: 422
        assert unknown.exit_code == 1 and error["code"] == "invalid_request"
        assert error["message"].startswith("path.service") and "bankchurn" in error["message"]
        quick = runner.invoke(
            opsctl,
            ["deploy", "bankchurn", "--env", "dev", "--artifact", refs["good"], "--no-wait"],
            env=env,
        )
        assert quick.exit_code == 0 and "approved" in quick.stdout, quick.output
        dep_id = quick.stdout.split("deployment")[-1].strip()
        waited = runner.invoke(opsctl, ["deployments", "wait", dep_id, "--json"], env=env)
        assert waited.exit_code == 0, waited.output
        assert json.loads(waited.stdout)["status"] == "succeeded"
