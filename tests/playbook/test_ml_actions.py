"""The ML playbooks on the local backend: real bankchurn processes, their prediction logs, real
training, gates and releases.

/drift-check finds nothing in in-distribution traffic, finds severe drift in shifted traffic (and
drift_severe follows), and says when there is too little to judge. /performance-review flags the
slice whose labels stopped making sense. /retrain trains, gates, bundles and deploys to dev, a
re-run of its training key does not train again, and a worse challenger is blocked by the gates
and the champion/challenger comparison.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from controlplane.adapters.base import Target
from controlplane.adapters.workload.local import LocalBackend
from controlplane.config import Settings
from controlplane.playbook.actions import ml_drift, ml_gates, ml_metrics, ml_retrain
from controlplane.playbook.actions.base import Requester, StepContext
from controlplane.playbook.rows import step_key
from controlplane.release.registry import ReleaseRegistry
from services.bankchurn import data as churn
from tests.playbook.conftest import step

REPO = Path(__file__).resolve().parents[2]
Headers = dict[str, str]
ENDED = ("succeeded", "failed", "cancelled", "paused")


# -- the pure parts ------------------------------------------------------------------------------


def test_a_check_needs_enough_predictions_for_the_smallest_bin() -> None:
    """300 at least; 10 expected in the smallest bucket (77 taxi areas need 770)."""
    bins = {"Age": {"kind": "numeric", "proportions": [0.0, 0.1, 0.9]}}
    areas = {"area": {"kind": "categorical", "shares": {str(a): 1 / 77 for a in range(77)}}}
    assert ml_drift.needed_samples(bins) == 300
    assert ml_drift.needed_samples(bins | areas) == 770
    assert [ml_drift.level(p, 0.10, 0.20) for p in (0.09, 0.10, 0.2, 0.4, 0.41)] == [
        "ok", "warn", "alert", "alert", "severe",
    ]  # fmt: skip


def test_rank_auc_counts_ties_as_half() -> None:
    assert ml_metrics.auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert ml_metrics.auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert ml_metrics.auc([1, 1], [0.2, 0.3]) is None
    assert [ml_metrics.binary_label(v) for v in (1, 0.0, "1", True, 2, "yes")] == [
        1, 0, 1, 1, None, None,
    ]  # fmt: skip


def test_only_a_promoted_challenger_passes_and_no_gates_fail_closed() -> None:
    ok = [{"name": "primary_minimum", "passed": True, "reason": None}]
    bad = [*ok, {"name": "fairness", "passed": False, "reason": "dir_gender 0.7"}]
    keep = {"decision": "keep", "reasons": ["not clearly better"]}
    assert ml_gates.verdict(ok, None, None).passed  # a first model: the gates decide
    assert ml_gates.verdict(bad, None, None).reasons == ["dir_gender 0.7"]
    assert not ml_gates.verdict(ok, keep, "bankchurn@sha256:" + "a" * 64).passed
    assert ml_gates.verdict(ok, None, "bankchurn@sha256:" + "a" * 64).decision == "block"
    assert ml_gates.verdict([], None, None).decision == "block"


# -- a plane on the local backend ------------------------------------------------------------


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The repo's playbooks; a short health window so dev deployments settle quickly."""
    return settings.model_copy(
        update={"playbook_dir": REPO / "playbooks", "run_poll_s": 0.1, "health_window_s": 0.5}
    )


@pytest.fixture
def workloads(settings: Settings) -> Iterator[LocalBackend]:
    """Real service processes on loopback (stopped after the test)."""
    backend = LocalBackend(settings.state_dir, base_port=0, ready_timeout_s=60)
    yield backend
    backend.stop_all()


def serve(app: FastAPI, settings: Settings, artifact: Path, environment: str) -> str:
    """Run a release of `artifact` in `environment` (set-up, straight on the backend); its URL."""
    ref = ReleaseRegistry(settings.state_dir, repo_root=REPO).build("bankchurn", artifact).ref
    release = app.state.ctx.workloads.releases.resolve(ref)
    result = app.state.ctx.workloads.backend.deploy(Target("bankchurn", environment), release)
    assert result.ok, result.reason
    return str(result.url)


def customers(n: int, seed: int, *, older_by: int = 0) -> tuple[list[dict[str, Any]], list[int]]:
    """Customers from the training generator (and whether each churned), optionally older."""
    cols, churned = churn.generate(n, seed)
    ints = ("CreditScore", "Tenure", "NumOfProducts", "HasCrCard", "IsActiveMember")
    rows = []
    for i in range(n):
        row: dict[str, Any] = {k: int(cols[k][i]) for k in ints}
        row |= {k: str(cols[k][i]) for k in ("Geography", "Gender")}
        row |= {k: float(cols[k][i]) for k in ("Balance", "EstimatedSalary")}
        row["Age"] = min(100, int(cols["Age"][i]) + older_by)
        rows.append(row)
    return rows, [int(v) for v in churned]


def predict(url: str, rows: list[dict[str, Any]]) -> list[str]:
    """Score rows through the service's /predict_batch; the prediction ids."""
    ids: list[str] = []
    for start in range(0, len(rows), 1000):
        r = httpx.post(f"{url}/predict_batch", json={"customers": rows[start : start + 1000]},
                       timeout=60)  # fmt: skip
        assert r.status_code == 200, r.text
        ids += [p["prediction_id"] for p in r.json()["predictions"]]
    return ids


def logged(folder: Path, name: str, at_least: int) -> None:
    """Wait for the service's log writer to put `at_least` lines into `name`."""
    deadline = time.monotonic() + 15
    path = folder / name
    while not path.exists() or len(path.read_text().splitlines()) < at_least:
        assert time.monotonic() < deadline, f"{path} has fewer than {at_least} lines"
        time.sleep(0.05)


def run(client: TestClient, app: FastAPI, who: Headers, text: str, timeout_s: float = 120) -> Any:
    """Start a slash command and follow it to its end, moving the plane's clock so waits are due."""
    r = client.post("/v1/commands", json={"text": text}, headers=who)
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + timeout_s
    while True:
        found = client.get(f"/v1/runs/{r.json()['id']}", headers=who).json()
        if found["status"] in ENDED:
            return found
        assert time.monotonic() < deadline, f"run still {found['status']}: {found['reason']}"
        app.state.ctx.clock.advance(timedelta(seconds=3))
        time.sleep(0.1)


def drift_severe(client: TestClient, who: Headers) -> str:
    """The drift_severe reading for bankchurn in production."""
    r = client.get("/v1/signals", params={"service": "bankchurn", "environment": "production"},
                   headers=who)  # fmt: skip
    return str(next(s["state"] for s in r.json()["data"] if s["name"] == "drift_severe"))


# -- drift-check -----------------------------------------------------------------------------


@pytest.mark.slow
def test_drift_check_tells_in_distribution_from_shifted_traffic(
    app: FastAPI, client: TestClient, token_for: Any, settings: Settings, trained: Path
) -> None:
    alice = token_for(name="alice", kind="human", roles=("operator",))
    url = serve(app, settings, trained, "production")
    log = app.state.ctx.workloads.backend.prediction_log(Target("bankchurn", "production"))
    predict(url, customers(40, seed=100)[0])
    logged(log, "predictions.jsonl", 40)

    few = run(client, app, alice, "/drift-check bankchurn")
    assert few["status"] == "succeeded", few["reason"]
    check = step(few, "check")["outputs"]
    assert check["not_enough_data"] == ["bankchurn"] and check["checked"] == 0
    assert check["services"][0]["needed"] >= 300 and check["reports"] == []

    predict(url, customers(400, seed=101)[0])
    logged(log, "predictions.jsonl", 440)
    calm = step(run(client, app, alice, "/drift-check bankchurn window=400"), "check")["outputs"]
    assert (calm["checked"], calm["any_severe"], calm["not_enough_data"]) == (1, False, [])
    report = calm["services"][0]
    assert report["status"] in ("ok", "warn") and report["max_psi"] < 0.20, report
    assert {f["name"] for f in report["features"]} >= {"Age", "Geography", "Balance"}
    assert drift_severe(client, alice) == "inactive"

    predict(url, customers(400, seed=102, older_by=20)[0])  # a much older clientele
    logged(log, "predictions.jsonl", 840)
    shifted = run(client, app, alice, "/drift-check bankchurn window=400")
    assert shifted["status"] == "succeeded", shifted["reason"]
    check = step(shifted, "check")["outputs"]
    assert check["severe_services"] == ["bankchurn"] and check["any_severe"]
    age = next(f for f in check["services"][0]["features"] if f["name"] == "Age")
    assert age["level"] == "severe" and age["psi"] > 0.40 and age["ks"] > 0.3
    assert step(shifted, "tell")["status"] == "succeeded"  # owners hear of it
    assert drift_severe(client, alice) == "active"  # the report was filed with the step

    predict(url, customers(400, seed=103)[0])
    logged(log, "predictions.jsonl", 1240)
    again = step(run(client, app, alice, "/drift-check all window=400"), "check")["outputs"]
    assert again["severe_services"] == [] and again["checked"] == 1
    assert set(again["not_deployed"]) == {"nlpinsight", "chicagotaxi"}
    assert drift_severe(client, alice) == "inactive"  # the same reporter says it is over


# -- performance-review ----------------------------------------------------------------------


@pytest.mark.slow
def test_performance_review_flags_the_slice_whose_labels_went_bad(
    app: FastAPI, client: TestClient, token_for: Any, settings: Settings, trained: Path
) -> None:
    alice = token_for(name="alice", kind="human", roles=("operator",))
    url = serve(app, settings, trained, "staging")
    rows, churned = customers(1200, seed=300)
    ids = predict(url, rows)
    # Germany's outcomes stop following the model's signal: the same churn rate, shuffled
    german = [i for i, r in enumerate(rows) if r["Geography"] == "Germany"]
    shuffled = np.random.default_rng(1).permutation(german)
    truth = list(churned)
    for i, j in zip(german, shuffled, strict=True):
        churned[i] = truth[j]
    log = app.state.ctx.workloads.backend.prediction_log(Target("bankchurn", "staging"))
    logged(log, "predictions.jsonl", len(ids))
    for start in range(0, len(ids), 1000):
        labels = [{"prediction_id": p, "label": y}
                  for p, y in zip(ids[start : start + 1000], churned[start : start + 1000],
                                  strict=True)]  # fmt: skip
        r = httpx.post(f"{url}/ground_truth", json={"labels": labels}, timeout=30)
        assert r.status_code == 202, r.text
    logged(log, "ground_truth.jsonl", len(ids))

    done = run(client, app, alice, "/performance-review bankchurn env=staging")
    assert done["status"] == "succeeded", done["reason"]
    review = step(done, "review")["outputs"]
    assert review["enough_data"] and review["labelled"] == 1200
    slices = {s["name"]: s for s in review["slices"]}
    assert "Geography=Germany" in review["degrading"], slices
    assert slices["Geography=Germany"]["auc"] < review["baseline_auc"] - 0.15
    assert "Geography=France" not in review["degrading"]
    assert slices["Geography=France"]["judged"]
    facts = step(done, "record")["inputs"]["facts"]
    assert facts["degrading"] == review["degrading"]


# -- retrain ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_retrain_trains_gates_bundles_and_deploys_to_dev_once_per_key(
    app: FastAPI, client: TestClient, token_for: Any, settings: Settings
) -> None:
    alice = token_for(name="alice", kind="human", roles=("operator",))
    done = run(client, app, alice, "/retrain bankchurn rows=1500 seed=8", timeout_s=240)
    assert done["status"] == "succeeded", done["reason"]
    trained = step(done, "train")["outputs"]
    assert trained["rows"] == 1500 and trained["seed"] == 8 and not trained["reused"]
    gates = step(done, "gates")["outputs"]
    assert gates["passed"] and gates["decision"] == "promote", gates["reasons"]
    assert gates["champion_release"] is None  # nothing serves in production: gates alone
    assert [g["name"] for g in gates["gates"]] == [
        "primary_minimum", "no_regression", "fairness", "latency", "leakage",
    ]  # fmt: skip
    release = step(done, "bundle")["outputs"]["release"]
    assert release.startswith("bankchurn@sha256:")
    dep = client.get(f"/v1/deployments/{step(done, 'deploy_dev')['outputs']['deployment_id']}",
                     headers=alice).json()  # fmt: skip
    assert (dep["environment"], dep["release"], dep["status"]) == ("dev", release, "succeeded")
    status = app.state.ctx.workloads.backend.status(Target("bankchurn", "dev"))
    info = httpx.get(f"{status.url}/model_info", timeout=10).json()
    assert info["model_version"] == trained["model_version"]

    # A re-run of the training step's key (a crash before the step was recorded) reuses the
    # finished folder: with no interpreter to train with, it still answers, with the same model.
    tools = dataclasses.replace(app.state.ctx.playbooks.tools, python="/nonexistent/python")
    key = step_key(done["id"], "train", 1)
    with Session(tools.engine) as session:
        ctx = StepContext(done["id"], "train", key, Requester("alice", "human"), "dev",
                          "bankchurn", session, tools, app.state.ctx.clock.now())  # fmt: skip
        again = ml_retrain.train(ctx, ml_retrain.TrainIn(service="bankchurn", rows=1500, seed=8))
    assert again.reused and again.challenger_dir == trained["challenger_dir"]
    assert again.model_version == trained["model_version"]


@pytest.mark.slow
def test_retrain_blocks_a_challenger_worse_than_the_champion(
    app: FastAPI, client: TestClient, token_for: Any, settings: Settings, trained: Path
) -> None:
    alice = token_for(name="alice", kind="human", roles=("operator",))
    serve(app, settings, trained, "staging")
    done = run(client, app, alice, "/retrain bankchurn env=staging rows=300 seed=5", 240)
    assert done["status"] == "succeeded", done["reason"]
    gates = step(done, "gates")["outputs"]
    assert (gates["passed"], gates["decision"]) == (False, "block")
    failed = {g["name"] for g in gates["gates"] if not g["passed"]}
    assert "primary_minimum" in failed, gates["gates"]
    comparison = gates["comparison"]  # McNemar and the bootstrap ran on the shared holdout
    assert comparison["n_samples"] == 4000 and comparison["ci_low"] <= -0.005
    assert gates["champion_version"] == comparison["champion_version"]
    assert gates["latency"]["champion_p95_ms"] > 0
    for skipped in ("bundle", "deploy_dev", "wait_dev"):
        assert step(done, skipped)["status"] == "skipped"
    assert step(done, "record")["inputs"]["title"] == "retrain of bankchurn: block"
    assert client.get("/v1/deployments", headers=alice).json()["data"] == []
