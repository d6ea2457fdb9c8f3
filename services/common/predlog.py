"""Prediction log: a bounded queue drained to JSONL by one background thread, never blocking."""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PREDICTIONS_FILE = "predictions.jsonl"
LABELS_FILE = "ground_truth.jsonl"
_STOP = object()


def new_prediction_id() -> str:
    """Give every prediction an id that ground truth can refer to later."""
    return uuid.uuid4().hex


def utc_now() -> str:
    """Timestamp in the one format every log line uses."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class PredictionLogger:
    """Append records to JSONL files off the request path; drop and count when the queue is full."""

    def __init__(
        self,
        folder: Path,
        *,
        max_queue: int = 10_000,
        flush_every: int = 100,
        on_drop: Callable[[], None] | None = None,
        on_error: Callable[[], None] | None = None,
    ) -> None:
        self.folder = folder
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._flush_every = flush_every
        self._on_drop = on_drop or (lambda: None)
        self._on_error = on_error or (lambda: None)
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self.dropped = 0

    def start(self) -> None:
        """Create the folder and start the writer thread."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def log_prediction(self, record: dict[str, Any]) -> None:
        """Enqueue one prediction record; never waits."""
        self._offer((PREDICTIONS_FILE, record))

    def log_label(self, prediction_id: str, label: Any) -> None:
        """Enqueue one ground-truth label for an earlier prediction."""
        record = {"prediction_id": prediction_id, "label": label, "label_ts": utc_now()}
        self._offer((LABELS_FILE, record))

    def close(self, timeout: float = 5.0) -> None:
        """Drain what is queued and stop the writer (on shutdown)."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    def _offer(self, item: tuple[str, dict[str, Any]]) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            self._on_drop()

    def _run(self) -> None:
        handles: dict[str, Any] = {}
        try:
            while True:
                batch = self._next_batch()
                stop = _STOP in batch
                self._write([b for b in batch if b is not _STOP], handles)
                if stop:
                    return
        finally:
            for fh in handles.values():
                fh.close()

    def _next_batch(self) -> list[Any]:
        """Block for one item, then take whatever else is already waiting (up to flush_every)."""
        batch = [self._queue.get()]
        while len(batch) < self._flush_every:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write(self, batch: list[tuple[str, dict[str, Any]]], handles: dict[str, Any]) -> None:
        try:
            for name, record in batch:
                if name not in handles:
                    handles[name] = (self.folder / name).open("a", encoding="utf-8")
                handles[name].write(json.dumps(record, default=str) + "\n")
            for fh in handles.values():
                fh.flush()
        except OSError:
            # A full disk must not take the service down; the error counter shows it.
            log.exception("prediction log write failed")
            self._on_error()


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the records of a JSONL file, skipping a torn last line."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def join_labels(folder: Path) -> list[dict[str, Any]]:
    """Predictions that have ground truth, each with its latest label (causal: label after it)."""
    labels: dict[str, dict[str, Any]] = {}
    for rec in read_jsonl(folder / LABELS_FILE):
        labels[rec["prediction_id"]] = rec
    joined = []
    for pred in read_jsonl(folder / PREDICTIONS_FILE):
        label = labels.get(pred["prediction_id"])
        if label is not None and label["label_ts"] >= pred["timestamp"]:
            joined.append({**pred, "label": label["label"], "label_ts": label["label_ts"]})
    return joined
