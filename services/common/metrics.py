"""Prometheus metrics of one service, in its own registry so several apps can share a process."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServiceMetrics:
    """The series the plane reads: requests by status, latency, predictions by class, version."""

    def __init__(self, service: str, class_label: str) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            f"{service}_requests",
            "HTTP requests by endpoint and status",
            ["endpoint", "status"],
            registry=r,
        )
        self.latency = Histogram(
            f"{service}_request_latency_seconds",
            "HTTP request latency",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            f"{service}_predictions", "Predictions by class", [class_label], registry=r
        )
        self.model_info = Gauge(
            f"{service}_model_info",
            "Loaded model (value 1)",
            ["model_version", "sha256"],
            registry=r,
        )
        self.ready = Gauge(f"{service}_ready", "1 when a verified model is loaded", registry=r)
        self.log_dropped = Counter(
            f"{service}_prediction_log_dropped", "Log records dropped on a full queue", registry=r
        )
        self.log_errors = Counter(
            f"{service}_prediction_log_errors", "Prediction log write failures", registry=r
        )
        self.overloaded = Counter(
            f"{service}_inference_rejected",
            "Requests refused because the pool queue was full",
            registry=r,
        )

    def render(self) -> bytes:
        """Text exposition of every series."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI middleware: count and time every HTTP request under its route template."""

    def __init__(self, app: Any, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(endpoint, str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - start)
