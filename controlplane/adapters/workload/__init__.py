"""Workload backends (local processes, Kubernetes, a fake) and post-rollout health checks."""

from controlplane.adapters.workload.fake import FakeWorkloadBackend
from controlplane.adapters.workload.health import HealthResult, verify_health
from controlplane.adapters.workload.local import LocalBackend

__all__ = ["FakeWorkloadBackend", "HealthResult", "LocalBackend", "verify_health"]
