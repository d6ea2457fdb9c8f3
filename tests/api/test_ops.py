"""Operating the plane: policy edits are hot-reloaded or refused, health and metrics endpoints."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controlplane.adapters.workload.fake import FakeWorkloadBackend
from controlplane.app import create_app
from controlplane.clock import ManualClock
from controlplane.config import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def editable(
    settings: Settings, clock: ManualClock, tmp_path: Path
) -> Iterator[tuple[TestClient, Path, dict[str, str]]]:
    """A plane reading a policy folder the test may edit (checked on every request)."""
    folder = tmp_path / "policies"
    shutil.copytree(REPO / "policies", folder)
    settings.policy_dir = folder
    settings.policy_check_interval_s = 0
    app = create_app(settings, clock=clock, workloads=FakeWorkloadBackend())
    with TestClient(app) as client:
        yield client, folder, {"Authorization": f"Bearer {app.state.ctx.admin_token}"}
    app.state.ctx.close()


def _mode(client: TestClient, headers: dict[str, str], env: str = "dev") -> dict:
    body = {"operation": "deploy", "environment": env, "dry_run": True}
    return client.post("/v1/decisions", json=body, headers=headers).json()


def test_bad_policy_edit_is_refused_and_the_last_good_policy_stays(editable) -> None:
    client, folder, headers = editable
    before = _mode(client, headers)
    modes = folder / "modes.yaml"
    good = modes.read_text()
    modes.write_text(good.replace("dev: AUTO", "dev: MAYBE", 1))
    after = _mode(client, headers)
    assert after["final_mode"] == before["final_mode"]
    assert after["policy_version"] == before["policy_version"]
    info = client.get("/v1/policies", headers=headers).json()
    assert "modes.yaml" in info["last_error"] and info["version"] == before["policy_version"]
    modes.write_text(good.replace("# ", "#  ", 1))  # a valid edit: new bytes, same rules
    fixed = _mode(client, headers)
    assert fixed["policy_version"] != before["policy_version"]
    assert client.get("/v1/policies", headers=headers).json()["last_error"] is None


def test_no_policy_at_all_means_stop_and_not_ready(
    settings: Settings, clock, tmp_path: Path
) -> None:
    settings.policy_dir = tmp_path / "empty"
    settings.policy_dir.mkdir()
    app = create_app(settings, clock=clock, workloads=FakeWorkloadBackend())
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {app.state.ctx.admin_token}"}
        d = _mode(client, headers)
        assert d["final_mode"] == "STOP" and "no valid policy" in d["reasons"][0]
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["error"]["code"] == "not_ready"
    app.state.ctx.close()


def test_health_ready_and_metrics(client: TestClient, admin_headers: dict[str, str]) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["ready"] is True
    client.post(
        "/v1/decisions",
        json={"operation": "deploy", "environment": "staging"},
        headers=admin_headers,
    )
    text = client.get("/metrics").text
    assert 'controlplane_decisions_total{environment="staging",final_mode="CONSULT"} 1.0' in text
    assert "controlplane_audit_appends_total 1.0" in text
