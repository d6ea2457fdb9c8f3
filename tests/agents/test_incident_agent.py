"""incident_agent end to end on real service processes: a P1 alert opens the incident and the
rollback step waits for two humans; the agent stops there, cannot vote, and the humans finish."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from factories import train_bankchurn
from fastapi import FastAPI

from agents.incident_agent import incidents_of
from controlplane.adapters.workload.local import LocalBackend
from controlplane.app import create_app
from controlplane.clock import ManualClock
from controlplane.config import Settings
from controlplane.errors import Forbidden
from controlplane.release.registry import ReleaseRegistry
from tests.agents.conftest import REPO, People, as_, refused_votes, run_agent, ticking

AGENT = "incident-agent"
pytestmark = pytest.mark.slow


def alert(service: str = "bankchurn", env: str = "dev", severity: str = "critical") -> dict:
    """An Alertmanager webhook payload with one firing alert."""
    return {
        "status": "firing",
        "alerts": [
            {"status": "firing",
             "labels": {"alertname": "HighErrorRate", "service": service, "environment": env,
                        "severity": severity},
             "annotations": {"summary": "5xx above 5% for 5 minutes"}},
            {"status": "resolved", "labels": {"alertname": "Old", "service": "nlpinsight"}},
        ],
    }  # fmt: skip


def test_alerts_become_one_incident_per_service_and_environment() -> None:
    payload = alert()
    payload["alerts"].append({"labels": {"service": "bankchurn", "environment": "dev",
                                         "severity": "warning"}})  # fmt: skip
    payload["alerts"].append({"labels": {"alertname": "NoService"}})
    found = incidents_of(payload)
    assert found == [{"service": "bankchurn", "environment": "dev", "severity": "P1",
                      "title": "HighErrorRate: 5xx above 5% for 5 minutes"}]  # fmt: skip


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two bankchurn artifacts (different seeds: two releases)."""
    root = tmp_path_factory.mktemp("artifacts")
    return {name: train_bankchurn(root / name, seed) for name, seed in (("v1", 3), ("v2", 4))}


@pytest.fixture
def app(
    local_settings: Settings, clock: ManualClock, local_backend: LocalBackend
) -> Iterator[FastAPI]:
    application = create_app(local_settings, clock=clock, workloads=local_backend)
    yield application
    application.state.ctx.close()


def test_a_p1_alert_stops_at_the_rollback_that_needs_two_humans(
    plane_url: str, people: People, local_settings: Settings, artifacts: dict[str, Path],
    clock: ManualClock, tmp_path: Path,
) -> None:  # fmt: skip
    registry = ReleaseRegistry(local_settings.state_dir, repo_root=REPO)
    refs = {name: registry.build("bankchurn", path).ref for name, path in artifacts.items()}
    with as_(plane_url, people["olga"]) as olga:
        for name in ("v1", "v2"):
            dep = olga.wait(olga.deploy("bankchurn", "dev", refs[name]), timeout_s=90)
            assert dep["status"] == "succeeded", dep

    payload = tmp_path / "alert.json"
    payload.write_text(json.dumps(alert()))
    with ticking(clock):
        proc = run_agent("incident_agent", plane_url, people[AGENT], "--alert", str(payload),
                         "--json", timeout=240)  # fmt: skip
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "paused at step mitigate (STOP)" in proc.stdout
    assert "waits for 2 of 2 human approvers" in proc.stdout
    assert "this agent cannot approve" in proc.stdout
    run = json.loads(proc.stdout[proc.stdout.index("[") :])[0]
    assert run["requested_by"] == AGENT
    mitigate = next(s for s in run["steps"] if s["step_id"] == "mitigate")

    with as_(plane_url, people[AGENT]) as agent:
        opened = [i for i in agent.incidents("open") if i["service"] == "bankchurn"]
        assert opened and opened[0]["severity"] == "P1" and opened[0]["opened_by"] == AGENT
        with pytest.raises(Forbidden):
            agent.approve(mitigate["approval_id"], "roll it back")
        assert refused_votes(agent, AGENT)

        for human in ("alice", "bob"):
            with as_(plane_url, people[human]) as reviewer:
                reviewer.approve(mitigate["approval_id"], "p1: roll back")
        with ticking(clock):
            done = agent.wait(run["id"], kind="run", timeout_s=120)
        assert done["status"] == "succeeded", done["reason"]
        serving = {(s["service"], s["environment"]): s for s in agent.services()}
    live = serving[("bankchurn", "dev")]
    assert live["release"] == refs["v1"]  # the previous release serves again
    assert httpx.get(f"{live['url']}/ready", timeout=10).status_code == 200
