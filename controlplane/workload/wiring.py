"""Which workload backend runs the services, where its releases come from, how health is judged."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from controlplane.adapters.base import Release, WorkloadBackend
from controlplane.adapters.workload.fake import FakeWorkloadBackend
from controlplane.config import Settings

if TYPE_CHECKING:
    from controlplane.release.registry import ReleaseRegistry


class ReleaseCatalog(Protocol):
    """Where releases come from: the local bundle registry, or anything for a fake backend."""

    def check(self, ref: str) -> None:
        """Raise NotFound for an unknown release."""
        ...

    def resolve(self, ref: str) -> Release:
        """Turn a reference into what the backend runs."""
        ...


HealthCheck = Callable[[str], dict[str, Any]]


class AnyRelease:
    """A catalog that accepts every well-formed reference (fake backends, tests)."""

    def check(self, ref: str) -> None:
        """Every reference is fine."""

    def resolve(self, ref: str) -> Release:
        """The reference alone."""
        return Release(ref)


def workload_parts(settings: Settings, workloads: WorkloadBackend | None) -> dict[str, Any]:
    """The backend, its release catalog and its health check: as given, or from settings."""
    if isinstance(workloads, FakeWorkloadBackend):
        return {"workloads": workloads, "releases": AnyRelease(), "health": workloads.health}
    if workloads is None and settings.workload_backend == "kubernetes":
        return _kubernetes_parts(settings)
    if workloads is None:
        from controlplane.adapters.workload.local import LocalBackend

        workloads = LocalBackend(settings.state_dir)
    from controlplane.release.registry import ReleaseRegistry

    return {
        "workloads": workloads,
        "releases": RegistryCatalog(ReleaseRegistry(settings.state_dir)),
        "health": _health_check(settings),
    }


def _kubernetes_parts(settings: Settings) -> dict[str, Any]:
    """Deployments in a real cluster from a kubeconfig; releases are digest-pinned images."""
    from controlplane.adapters.workload.k8s import KubernetesBackend
    from controlplane.adapters.workload.k8s_api import KubeClusterApi

    api = KubeClusterApi.from_kubeconfig(settings.kubeconfig, settings.kube_context)
    return {
        "workloads": KubernetesBackend(api),
        "releases": ImageCatalog(),
        # Readiness is the rollout itself (available replicas); error rates need Prometheus.
        "health": lambda url: {"healthy": True, "ready": True, "reason": "rollout available"},
    }


class ImageCatalog:
    """On Kubernetes a release is an OCI image pinned by digest; the registry is the cluster's."""

    def check(self, ref: str) -> None:
        """A pinned image can be tried; a missing one fails the rollout, not the request."""
        Release(ref)

    def resolve(self, ref: str) -> Release:
        """The image is the reference."""
        return Release(ref, image=ref)


class RegistryCatalog:
    """Releases are the signed local bundles in the state folder."""

    def __init__(self, registry: ReleaseRegistry) -> None:
        self.registry = registry

    def check(self, ref: str) -> None:
        """404 (with the known refs) for a release never built here, 409 for one that fails
        verification (the bundle is verified in full)."""
        self.registry.get(ref)

    def resolve(self, ref: str) -> Release:
        """The verified bundle's artifact folder, which the local backend runs."""
        info = self.registry.get(ref)
        return Release(
            info.ref, artifact=str(info.artifact_dir), model_version=info.manifest.model_version
        )


def _health_check(settings: Settings) -> HealthCheck:
    """Readiness plus error rate over the configured window (numbers kept for the record)."""
    from controlplane.adapters.workload.health import verify_health

    def check(url: str) -> dict[str, Any]:
        result = verify_health(url, settings.health_window_s, settings.max_error_rate)
        return {
            "healthy": result.ok,
            "ready": result.ready,
            "error_rate": result.error_rate,
            "requests": result.requests,
            "window_s": result.window_s,
            "reason": result.reason,
        }

    return check
