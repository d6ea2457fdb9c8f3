"""Workload backends (local processes, Kubernetes, a fake) and post-rollout health checks.

SDK-backed modules (k8s_api, clusters) import their SDKs lazily; importing this package is cheap.
"""

from controlplane.adapters.workload.fake import FakeWorkloadBackend
from controlplane.adapters.workload.health import HealthResult, verify_health
from controlplane.adapters.workload.k8s import KubernetesBackend
from controlplane.adapters.workload.k8s_fake import FakeCluster
from controlplane.adapters.workload.local import LocalBackend

__all__ = [
    "FakeCluster",
    "FakeWorkloadBackend",
    "HealthResult",
    "KubernetesBackend",
    "LocalBackend",
    "verify_health",
]
