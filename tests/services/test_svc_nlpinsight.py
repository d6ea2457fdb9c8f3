"""NLPInsight: training quality and the HTTP contract through a real server."""

from __future__ import annotations

import pytest
from svc_server import ready, wait_until

from services.common.artifact import read_manifest


def test_training_learns_but_is_not_trivially_perfect(artifacts) -> None:
    """Macro-F1 well above chance (0.33) yet below 1: the synthetic labels are noisy."""
    metrics = read_manifest(artifacts["nlpinsight"]).metrics
    assert 0.6 <= metrics["f1_macro"] < 0.97
    assert {"f1_negative", "f1_neutral", "f1_positive"} <= set(metrics)


def test_predict_round_trip_reads_sentiment(serve, artifacts) -> None:
    """Clear headlines get the obvious label; scores are a distribution over the three labels."""
    with serve("nlpinsight", artifacts["nlpinsight"]) as client:
        assert wait_until(lambda: ready(client))
        up = client.post("/predict", json={"text": "$AAPL surges after earnings beat"}).json()
        down = client.post("/predict", json={"text": "$TSLA plunges on weak guidance"}).json()
    assert up["prediction"]["label"] == "positive"
    assert down["prediction"]["label"] == "negative"
    scores = up["prediction"]["all_scores"]
    assert set(scores) == {"negative", "neutral", "positive"}
    assert sum(scores.values()) == pytest.approx(1.0, abs=1e-4)
    assert up["prediction"]["confidence"] == pytest.approx(max(scores.values()), abs=1e-6)
    assert up["model"] == "tfidf-logreg"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "    "}, "text"),
        ({"text": "x" * 5001}, "text"),
        ({"text": 42}, "text"),
        ({}, "text"),
        ({"texts": []}, "texts"),
        ({"texts": [{"text": "a"}] * 501}, "texts"),
    ],
)
def test_bad_input_is_422_naming_the_field(serve, artifacts, body, field) -> None:
    """Empty, blank, 5001-character or mistyped texts and oversized batches are refused."""
    path = "/predict_batch" if "texts" in body else "/predict"
    with serve("nlpinsight", artifacts["nlpinsight"]) as client:
        assert wait_until(lambda: ready(client))
        r = client.post(path, json=body)
        assert r.status_code == 422
        assert field in {err["loc"][-1] for err in r.json()["detail"]}
        assert client.post("/predict", json={"text": "x" * 5000}).status_code == 200


def test_batch_answers_in_order(serve, artifacts) -> None:
    """Batch predictions match single predictions, in request order."""
    texts = ["$NFLX files 10-Q filing", "$AAPL surges after earnings beat"]
    with serve("nlpinsight", artifacts["nlpinsight"]) as client:
        assert wait_until(lambda: ready(client))
        batch = client.post("/predict_batch", json={"texts": [{"text": t} for t in texts]}).json()
        singles = [client.post("/predict", json={"text": t}).json()["prediction"] for t in texts]
    assert batch["count"] == 2
    assert [p["label"] for p in batch["predictions"]] == [s["label"] for s in singles]
