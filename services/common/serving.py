"""Runtime of one service: verified model, bounded inference pool, metrics, prediction log."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from services.common import artifact
from services.common.drift import Threshold
from services.common.metrics import ServiceMetrics
from services.common.models import Manifest
from services.common.predlog import PredictionLogger, new_prediction_id, utc_now

log = logging.getLogger(__name__)

InferenceMode = Literal["threadpool", "loop"]
RECENT_INPUTS = 10_000


def default_threads() -> int:
    """INFERENCE_THREADPOOL_WORKERS, else min(4, cpu count), as in the seed's ADR-015."""
    env = os.environ.get("INFERENCE_THREADPOOL_WORKERS")
    return int(env) if env else min(4, os.cpu_count() or 1)


def columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Turn logged feature rows into one list per feature, the shape drift checks take."""
    names = rows[0].keys() if rows else []
    return {n: [r[n] for r in rows] for n in names}


@dataclass(frozen=True)
class ServiceSpec:
    """What differs between services in the shared runtime."""

    name: str
    class_label: str
    thresholds: Mapping[str, Threshold] = field(default_factory=dict)
    drift_columns: Callable[[Sequence[Mapping[str, Any]]], dict[str, list[Any]]] = columns


@dataclass(frozen=True)
class ServeSettings:
    """How one process serves: artifact, log folder, pool size, queue bound, inference mode."""

    artifact: Path
    log_dir: Path
    threads: int = field(default_factory=default_threads)
    max_pending: int = 256
    inference: InferenceMode = "threadpool"


class ModelUnavailable(Exception):
    """No verified model is loaded, so predictions get a 503."""


class Overloaded(Exception):
    """The inference queue is at its bound, so the request gets a 503 instead of waiting forever."""


class Runtime:
    """Everything a request handler needs, created once per app."""

    def __init__(self, spec: ServiceSpec, settings: ServeSettings) -> None:
        self.spec = spec
        self.settings = settings
        self.metrics = ServiceMetrics(spec.name, spec.class_label)
        self.model: Any = None
        self.manifest: Manifest | None = None
        self.load_error: str | None = "model not loaded yet"
        self.started = time.monotonic()
        self.recent: deque[tuple[str, Mapping[str, Any]]] = deque(maxlen=RECENT_INPUTS)
        self._pending = 0
        self.executor = ThreadPoolExecutor(settings.threads, thread_name_prefix="ml-infer")
        self.logger = PredictionLogger(
            settings.log_dir,
            on_drop=self.metrics.log_dropped.inc,
            on_error=self.metrics.log_errors.inc,
        )

    def load(self) -> None:
        """Load and verify the artifact; on failure stay unready and say why in the log."""
        try:
            self.model, self.manifest = artifact.load(
                self.settings.artifact, service=self.spec.name
            )
        except Exception as exc:  # any failure means: do not serve this model
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("%s: refusing artifact %s: %s", self.spec.name, self.settings.artifact, exc)
            return
        self.load_error = None
        version = self.manifest.training.model_version
        self.metrics.model_info.labels(version, self.manifest.model_sha256).set(1)
        self.metrics.ready.set(1)
        log.info("%s: loaded model %s", self.spec.name, version)

    @property
    def model_version(self) -> str:
        """Version of the loaded model, for responses and logs."""
        if self.manifest is None:
            raise ModelUnavailable(self.load_error)
        return self.manifest.training.model_version

    async def infer(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run fn(model, *args) in the bounded pool (or on the loop, for the comparison bench)."""
        if self.model is None:
            raise ModelUnavailable(self.load_error)
        if self.settings.inference == "loop":
            return fn(self.model, *args)
        if self._pending >= self.settings.max_pending:
            self.metrics.overloaded.inc()
            raise Overloaded
        self._pending += 1  # only touched on the event loop thread, so no lock is needed
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.executor, fn, self.model, *args)
        finally:
            self._pending -= 1

    def record(
        self, features: Mapping[str, Any], score: Any, prediction_class: Any, latency_ms: float
    ) -> str:
        """Count, remember for drift and enqueue one prediction; returns its id."""
        pid = new_prediction_id()
        ts = utc_now()
        self.metrics.predictions.labels(str(prediction_class)).inc()
        self.recent.append((ts, features))
        self.logger.log_prediction(
            {
                "prediction_id": pid,
                "timestamp": ts,
                "service": self.spec.name,
                "model_version": self.model_version,
                "features": dict(features),
                "score": score,
                "prediction_class": prediction_class,
                "latency_ms": round(latency_ms, 3),
            }
        )
        return pid

    def start(self) -> None:
        """Start the log writer (loading happens separately so /health answers at once)."""
        self.logger.start()

    def stop(self) -> None:
        """Drain the log and stop the pool on shutdown."""
        self.logger.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
