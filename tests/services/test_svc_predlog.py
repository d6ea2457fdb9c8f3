"""Prediction log: never blocks, drops and counts when full, drains on close, joins causally."""

from __future__ import annotations

import json

from services.common.predlog import LABELS_FILE, PREDICTIONS_FILE, PredictionLogger, join_labels


def test_full_queue_drops_and_counts_instead_of_blocking(tmp_path) -> None:
    """With the writer stopped and a queue of 2, the third record is dropped, not waited on."""
    drops = []
    logger = PredictionLogger(tmp_path, max_queue=2, on_drop=lambda: drops.append(1))
    for i in range(3):
        logger.log_prediction({"prediction_id": str(i)})
    assert logger.dropped == 1 and drops == [1]


def test_close_drains_everything_queued(tmp_path) -> None:
    logger = PredictionLogger(tmp_path, flush_every=7)
    logger.start()
    for i in range(50):
        logger.log_prediction({"prediction_id": f"{i:032x}", "timestamp": "2026-01-01T00:00"})
    logger.close()
    lines = (tmp_path / PREDICTIONS_FILE).read_text().splitlines()
    assert [json.loads(x)["prediction_id"] for x in lines] == [f"{i:032x}" for i in range(50)]


def test_join_keeps_latest_label_and_ignores_labels_older_than_the_prediction(tmp_path) -> None:
    preds = [
        {"prediction_id": "a", "timestamp": "2026-01-02T00:00"},
        {"prediction_id": "b", "timestamp": "2026-01-02T00:00"},
        {"prediction_id": "c", "timestamp": "2026-01-02T00:00"},
    ]
    labels = [
        {"prediction_id": "a", "label": 0, "label_ts": "2026-01-03T00:00"},
        {"prediction_id": "a", "label": 1, "label_ts": "2026-01-04T00:00"},
        {"prediction_id": "b", "label": 1, "label_ts": "2026-01-01T00:00"},  # before: not causal
    ]
    (tmp_path / PREDICTIONS_FILE).write_text("".join(json.dumps(p) + "\n" for p in preds))
    (tmp_path / LABELS_FILE).write_text("".join(json.dumps(x) + "\n" for x in labels) + '{"torn')
    joined = join_labels(tmp_path)
    assert [(j["prediction_id"], j["label"]) for j in joined] == [("a", 1)]
