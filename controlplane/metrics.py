"""The plane's own Prometheus metrics, on a registry per app (tests build many apps)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.registry import Collector


@dataclass
class PlaneMetrics:
    """Every series the plane exports at /metrics."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.decisions = Counter(
            "controlplane_decisions_total",
            "Decisions by final mode",
            ["final_mode", "environment"],
            registry=self.registry,
        )
        self.audit_appends = Counter(
            "controlplane_audit_appends_total", "Audit records written", registry=self.registry
        )
        self.audit_failures = Counter(
            "controlplane_audit_failures_total",
            "Audit appends that failed (action refused)",
            registry=self.registry,
        )
        self.refusals = Counter(
            "controlplane_refusals_total",
            "Refused state-changing calls, by error code and whether they were recorded",
            ["code", "recorded"],
            registry=self.registry,
        )
        self.unauthenticated = Counter(
            "controlplane_unauthenticated_total",
            "State-changing calls refused with 401 (anonymous: counted, not recorded)",
            registry=self.registry,
        )
        self.requests = Histogram(
            "controlplane_http_request_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            registry=self.registry,
        )

    def watch(self, collector: Collector) -> None:
        """Add series computed at scrape time (the dora_* gauges read the database then)."""
        self.registry.register(collector)
