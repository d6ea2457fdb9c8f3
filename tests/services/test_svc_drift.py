"""Drift: identical data scores ~0, a shifted feature crosses the alert, reports stay coherent."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from svc_server import ready, wait_until

from services.bankchurn import data as churn_data
from services.bankchurn.spec import SPEC
from services.bankchurn.train import reference_baseline
from services.common import baseline, drift
from services.common.models import DriftReport, FeatureDrift
from services.nlpinsight import data as nlp_data

WINDOW = {"window_start": "2026-01-01T00:00:00Z", "window_end": "2026-01-02T00:00:00Z"}


def churn_report(cols: dict[str, np.ndarray], ref: dict[str, dict]) -> DriftReport:
    return drift.report(
        service="bankchurn", baseline=ref, current=cols, thresholds=SPEC.thresholds, **WINDOW
    )


@pytest.fixture(scope="module")
def reference() -> dict[str, dict]:
    cols, _ = churn_data.generate(5000, seed=11)
    return reference_baseline(cols)


def test_identical_samples_give_psi_near_zero(reference) -> None:
    """Scoring the reference against itself finds nothing."""
    cols, _ = churn_data.generate(5000, seed=11)
    report = churn_report(cols, reference)
    assert report.max_psi < 1e-6
    assert all(f.ks is None or f.ks <= 0.011 for f in report.features)
    assert report.retrain_recommendation == "none" and not report.any_psi_over_2x_threshold


def test_fresh_sample_of_the_same_population_stays_below_warning(reference) -> None:
    """Sampling noise alone (2000 rows) does not trigger a warning."""
    cols, _ = churn_data.generate(2000, seed=12)
    assert churn_report(cols, reference).max_psi < 0.10


def test_shifted_numeric_feature_crosses_the_alert(reference) -> None:
    """Customers 12 years older push Age PSI past 0.20 and recommend a hard retrain."""
    cols, _ = churn_data.generate(2000, seed=12)
    cols["Age"] = np.clip(cols["Age"] + 12, 18, 100)
    report = churn_report(cols, reference)
    age = next(f for f in report.features if f.name == "Age")
    assert age.psi >= 0.20 and age.kind == "numeric" and age.ks > 0.2
    assert report.retrain_recommendation == "hard"
    others = [f for f in report.features if f.name != "Age"]
    assert max(f.psi for f in others) < 0.10


def test_category_mix_change_and_unseen_category_are_scored(reference) -> None:
    """All-German traffic is severe drift (> 2x alert) on Geography."""
    cols, _ = churn_data.generate(2000, seed=12)
    cols["Geography"] = np.array(["Germany"] * 2000)
    report = churn_report(cols, reference)
    geo = next(f for f in report.features if f.name == "Geography")
    assert geo.kind == "categorical" and geo.psi > 0.40 and report.any_psi_over_2x_threshold
    unseen = drift.categorical_drift({"shares": {"a": 0.5, "b": 0.5}}, ["a", "b", "c", "c"])
    assert unseen > 0.2


def test_small_shift_gives_a_soft_recommendation() -> None:
    """A PSI between warn and alert recommends review, not retraining."""
    f = [FeatureDrift(name="x", psi=0.15, threshold=0.20, kind="numeric")]
    assert drift.recommend(f, {}) == "soft"
    assert drift.recommend(f, {"x": drift.Threshold(warn=0.16, alert=0.3)}) == "none"


def test_vocabulary_drift_separates_new_topics_from_old() -> None:
    """Same generator: low vocabulary PSI; crypto chatter never seen in training: high."""
    texts, _ = nlp_data.generate(3000, seed=1)
    ref = baseline.text(texts)
    same, _ = nlp_data.generate(1000, seed=2)
    other = [f"bitcoin halving memecoin airdrop wallet {i % 7}" for i in range(300)]
    assert drift.text_drift(ref, same) < 0.10
    assert drift.text_drift(ref, other) > 0.40


def test_too_few_samples_are_refused(reference) -> None:
    """Ten rows cannot say anything about drift."""
    cols, _ = churn_data.generate(10, seed=12)
    with pytest.raises(drift.NotEnoughData):
        churn_report(cols, reference)


def test_report_refuses_contradictory_summary() -> None:
    """A report cannot claim no severe drift while a feature is over 2x its threshold."""
    feature = FeatureDrift(name="Age", psi=0.5, threshold=0.2, kind="numeric")
    with pytest.raises(ValidationError, match="any_psi_over_2x_threshold"):
        DriftReport(
            service="bankchurn",
            features=[feature],
            any_psi_over_2x_threshold=False,
            max_psi=0.5,
            retrain_recommendation="hard",
            **WINDOW,
        )


def test_drift_endpoint_reports_on_recent_traffic(serve, artifacts) -> None:
    """After a burst of much older customers, GET /drift flags Age with a hard recommendation."""
    cols, _ = churn_data.generate(120, seed=99)
    customers = [
        {f: (v.item() if hasattr(v, "item") else v) for f, v in zip(cols, row, strict=True)}
        for row in zip(*cols.values(), strict=True)
    ]
    for c in customers:
        c["Age"] = min(100, c["Age"] + 25)
        c["Balance"] = float(c["Balance"])
        c["EstimatedSalary"] = float(c["EstimatedSalary"])
    with serve("bankchurn", artifacts["bankchurn"]) as client:
        assert wait_until(lambda: ready(client))
        assert client.get("/drift").status_code == 409  # no traffic yet
        assert client.post("/predict_batch", json={"customers": customers}).status_code == 200
        report = DriftReport.model_validate(client.get("/drift", params={"window": 120}).json())
    age = next(f for f in report.features if f.name == "Age")
    assert age.psi > 2 * age.threshold
    assert report.retrain_recommendation == "hard" and report.service == "bankchurn"
