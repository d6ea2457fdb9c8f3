"""drift_agent end to end on a real service process: calm traffic is left alone; a shifted
clientele is severe drift in production, so the agent asks for /retrain (a gated run)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agents.drift_agent import seconds
from controlplane.adapters.base import Target
from controlplane.adapters.workload.local import LocalBackend
from controlplane.app import create_app
from controlplane.clock import ManualClock
from controlplane.config import Settings
from controlplane.release.registry import ReleaseRegistry
from services.bankchurn import data as churn
from tests.agents.conftest import REPO, People, as_, run_agent, ticking

AGENT = "drift-agent"


def test_periods_read_like_ttls() -> None:
    assert [seconds(t) for t in ("45s", "30m", "1h", "1d", "90")] == [45, 1800, 3600, 86400, 90]
    with pytest.raises(argparse.ArgumentTypeError):
        seconds("soon")


@pytest.fixture
def app(
    local_settings: Settings, clock: ManualClock, local_backend: LocalBackend
) -> Iterator[FastAPI]:
    application = create_app(local_settings, clock=clock, workloads=local_backend)
    yield application
    application.state.ctx.close()


def serve_production(app: FastAPI, settings: Settings, artifact: Path) -> tuple[str, Path]:
    """Set-up: a release of `artifact` serving production (straight on the backend)."""
    ref = ReleaseRegistry(settings.state_dir, repo_root=REPO).build("bankchurn", artifact).ref
    backend = app.state.ctx.workloads.backend
    target = Target("bankchurn", "production")
    result = backend.deploy(target, app.state.ctx.workloads.releases.resolve(ref))
    assert result.ok, result.reason
    return str(result.url), backend.prediction_log(target)


def traffic(url: str, log: Path, n: int, seed: int, older_by: int = 0) -> None:
    """Score `n` customers from the training generator (optionally older), and wait for the log."""
    cols, _ = churn.generate(n, seed)
    ints = ("CreditScore", "Tenure", "NumOfProducts", "HasCrCard", "IsActiveMember")
    rows: list[dict[str, Any]] = []
    for i in range(n):
        row: dict[str, Any] = {k: int(cols[k][i]) for k in ints}
        row |= {k: str(cols[k][i]) for k in ("Geography", "Gender")}
        row |= {k: float(cols[k][i]) for k in ("Balance", "EstimatedSalary")}
        row["Age"] = min(100, int(cols["Age"][i]) + older_by)
        rows.append(row)
    path = log / "predictions.jsonl"
    before = len(path.read_text().splitlines()) if path.exists() else 0
    r = httpx.post(f"{url}/predict_batch", json={"customers": rows}, timeout=60)
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 15
    while not path.exists() or len(path.read_text().splitlines()) < before + n:
        assert time.monotonic() < deadline, "the service did not log its predictions"
        time.sleep(0.05)


@pytest.mark.slow
def test_severe_drift_makes_the_agent_ask_for_a_retrain(
    app: FastAPI, plane_url: str, people: People, local_settings: Settings, trained: Path,
    clock: ManualClock,
) -> None:  # fmt: skip
    url, log = serve_production(app, local_settings, trained)
    once = ["--once", "--service", "bankchurn", "--window", "400",
            "--retrain-input", "rows=300", "--retrain-input", "seed=5"]  # fmt: skip

    traffic(url, log, 400, seed=101)
    with ticking(clock):
        calm = run_agent("drift_agent", plane_url, people[AGENT], *once)
    assert calm.returncode == 0, calm.stdout + calm.stderr
    assert "no severe drift in production" in calm.stdout

    traffic(url, log, 400, seed=102, older_by=20)  # a much older clientele
    with ticking(clock):
        drifted = run_agent("drift_agent", plane_url, people[AGENT], *once, timeout=300)
    # the check filed a drift report, so drift_severe is on: it escalates the retrain's own
    # steps (policies/signals.yaml), and the agent stops at the one that needs a human
    assert drifted.returncode == 3, drifted.stdout + drifted.stderr
    assert "severe drift in bankchurn/production: Age" in drifted.stdout
    assert "asked for /retrain bankchurn" in drifted.stdout
    assert "paused at step train (CONSULT)" in drifted.stdout
    with as_(plane_url, people[AGENT]) as agent:
        retrains = agent.runs(playbook="retrain")
        drift = {s["name"]: s for s in agent.signals("bankchurn", "production")["data"]}
        assert len(retrains) == 1 and retrains[0]["requested_by"] == AGENT
        assert "severe drift" in str(agent.get_run(retrains[0]["id"])["inputs"]["reason"])
        assert drift["drift_severe"]["state"] == "active"
        train = next(
            s for s in agent.get_run(retrains[0]["id"])["steps"] if s["step_id"] == "train"
        )
        with as_(plane_url, people["alice"]) as alice:
            alice.approve(train["approval_id"], "retrain on the new clientele")
        with ticking(clock):
            done = agent.wait(retrains[0]["id"], kind="run", timeout_s=240)
    assert done["status"] == "succeeded", done["reason"]  # trained and gated (300 rows: blocked)
