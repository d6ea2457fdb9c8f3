"""BankChurn: training quality, the HTTP contract through a real server, metrics and the log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from svc_server import ready, wait_until

from services.common.artifact import read_manifest
from services.common.predlog import join_labels

CUSTOMER = {
    "CreditScore": 620,
    "Geography": "France",
    "Gender": "Male",
    "Age": 31,
    "Tenure": 5,
    "Balance": 0.0,
    "NumOfProducts": 2,
    "HasCrCard": 1,
    "IsActiveMember": 1,
    "EstimatedSalary": 60000.0,
}
RISKY = {
    **CUSTOMER,
    "Geography": "Germany",
    "Gender": "Female",
    "Age": 55,
    "NumOfProducts": 3,
    "IsActiveMember": 0,
    "Balance": 120000.0,
}


def test_training_reaches_the_auc_bar_on_held_out_data(artifacts: dict[str, Path]) -> None:
    """Even on 3000 synthetic rows the model clears AUC 0.80 and churn is near 20%."""
    m = read_manifest(artifacts["bankchurn"])
    assert m.metrics["roc_auc"] >= 0.80
    assert 0.15 <= m.metrics["churn_rate"] <= 0.25
    assert m.training.rows == 3000 and m.training.seed == 1
    assert set(m.baseline) >= {"Age", "Balance", "Geography", "Gender"}


def test_predict_round_trip_applies_threshold_and_bands(serve, artifacts) -> None:
    """Probabilities become decisions at 0.35 and bands at 0.3/0.7; risky profiles score higher."""
    with serve("bankchurn", artifacts["bankchurn"]) as client:
        assert wait_until(lambda: ready(client))
        low = client.post("/predict", json=CUSTOMER).json()
        high = client.post("/predict", json=RISKY).json()
        assert high["churn_probability"] > low["churn_probability"]
        for r in (low, high):
            p = r["churn_probability"]
            assert r["churn_prediction"] == int(p >= 0.35)
            assert r["risk_level"] == ("LOW" if p < 0.3 else "MEDIUM" if p < 0.7 else "HIGH")
            assert r["confidence"] == pytest.approx(abs(p - 0.5) * 2, abs=1e-5)
            assert r["model_version"] == client.get("/model_info").json()["model_version"]


def test_batch_keeps_order_and_enforces_limits(serve, artifacts) -> None:
    """A batch answers in request order; 0 or 1001 customers are refused."""
    with serve("bankchurn", artifacts["bankchurn"]) as client:
        assert wait_until(lambda: ready(client))
        single = client.post("/predict", json=RISKY).json()["churn_probability"]
        batch = client.post("/predict_batch", json={"customers": [CUSTOMER, RISKY]}).json()
        assert batch["total_customers"] == 2
        assert batch["predictions"][1]["churn_probability"] == pytest.approx(single)
        for size in (0, 1001):
            r = client.post("/predict_batch", json={"customers": [CUSTOMER] * size})
            assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "customers"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("CreditScore", 299),
        ("CreditScore", 851),
        ("Age", 17),
        ("Age", "forty"),
        ("Geography", "Italy"),
        ("Gender", "X"),
        ("NumOfProducts", 5),
        ("HasCrCard", 2),
        ("Balance", -1.0),
        ("EstimatedSalary", "lots"),
        ("Tenure", 11),
    ],
)
def test_bad_input_is_422_naming_the_field(serve, artifacts, field: str, value: object) -> None:
    """Out-of-range, unknown or mistyped values name the field; the service keeps serving."""
    with serve("bankchurn", artifacts["bankchurn"]) as client:
        assert wait_until(lambda: ready(client))
        r = client.post("/predict", json={**CUSTOMER, field: value})
        assert r.status_code == 422
        assert field in {err["loc"][-1] for err in r.json()["detail"]}
        assert client.post("/predict", json=CUSTOMER).status_code == 200


def test_metrics_expose_status_latency_class_and_version(serve, artifacts) -> None:
    """The plane computes error rate and latency from these exact series."""
    with serve("bankchurn", artifacts["bankchurn"]) as client:
        assert wait_until(lambda: ready(client))
        client.post("/predict", json=CUSTOMER)
        client.post("/predict", json={**CUSTOMER, "Age": 5})
        text = client.get("/metrics").text
        version = client.get("/model_info").json()["model_version"]
    assert 'bankchurn_requests_total{endpoint="/predict",status="200"} 1.0' in text
    assert 'bankchurn_requests_total{endpoint="/predict",status="422"} 1.0' in text
    assert 'bankchurn_request_latency_seconds_count{endpoint="/predict"} 2.0' in text
    assert "bankchurn_predictions_total{risk_level=" in text
    assert f'bankchurn_model_info{{model_version="{version}"' in text


def test_predictions_are_logged_and_ground_truth_joins_by_id(serve, artifacts, tmp_path) -> None:
    """Every prediction lands in the JSONL log with its id; labels posted later join to it."""
    log_dir = tmp_path / "log-bankchurn"
    with serve("bankchurn", artifacts["bankchurn"]) as client:
        assert wait_until(lambda: ready(client))
        pid = client.post("/predict", json=RISKY).json()["prediction_id"]
        r = client.post("/ground_truth", json={"labels": [{"prediction_id": pid, "label": 1}]})
        assert r.status_code == 202
        bad = client.post("/ground_truth", json={"labels": [{"prediction_id": "x", "label": 1}]})
        assert bad.status_code == 422
    # Shutdown drains the queue, so both files are complete here.
    lines = [json.loads(x) for x in (log_dir / "predictions.jsonl").read_text().splitlines()]
    assert [x["prediction_id"] for x in lines] == [pid]
    assert lines[0]["features"]["Geography"] == "Germany"
    joined = join_labels(log_dir)
    assert [(j["prediction_id"], j["label"]) for j in joined] == [(pid, 1)]
