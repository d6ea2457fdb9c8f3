"""One cluster per environment: a KubernetesBackend for each, chosen by the target's environment.

infra/terraform builds one cluster per environment; the governing plane reaches each through its
own kubeconfig context, and a target whose environment has no cluster is refused, never sent to
another environment's cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controlplane.adapters.base import LogChunk, Release, RolloutResult, Target, WorkloadStatus
from controlplane.adapters.workload.k8s import KubernetesBackend
from controlplane.adapters.workload.k8s_overlay import Overlays
from controlplane.errors import AdapterError


class ClusterPerEnvironment:
    """A WorkloadBackend that hands each call to the backend of the target's environment."""

    name = "kubernetes"

    def __init__(self, backends: Mapping[str, KubernetesBackend]) -> None:
        if not backends:
            raise AdapterError("no cluster configured for any environment")
        self.backends = dict(backends)

    @classmethod
    def from_kubeconfig(
        cls,
        contexts: Mapping[str, str],
        *,
        path: str | None = None,
        overlays: Overlays | None = None,
        **options: Any,
    ) -> ClusterPerEnvironment:
        """environment -> kubeconfig context (e.g. {"dev": "gke_p_europe-west1_mlops-dev"})."""
        from controlplane.adapters.workload.k8s_api import KubeClusterApi

        shared = overlays or Overlays()
        return cls(
            {
                env: KubernetesBackend(
                    KubeClusterApi.from_kubeconfig(path, context), overlays=shared, **options
                )
                for env, context in contexts.items()
            }
        )

    def backend(self, target: Target) -> KubernetesBackend:
        """The backend of the target's environment; AdapterError when there is none."""
        try:
            return self.backends[target.environment]
        except KeyError:
            raise AdapterError(
                f"no cluster is configured for environment {target.environment!r}",
                {"environment": target.environment, "configured": sorted(self.backends)},
            ) from None

    def deploy(self, target: Target, release: Release) -> RolloutResult:
        """Roll out in the environment's own cluster."""
        return self.backend(target).deploy(target, release)

    def status(self, target: Target) -> WorkloadStatus:
        """What runs for the target in its environment's cluster."""
        return self.backend(target).status(target)

    def restore(self, target: Target, previous_release: Release) -> RolloutResult:
        """Roll back in the environment's own cluster."""
        return self.backend(target).restore(target, previous_release)

    def scale(self, target: Target, replicas: int) -> WorkloadStatus:
        """Scale in the environment's own cluster."""
        return self.backend(target).scale(target, replicas)

    def restart(self, target: Target) -> RolloutResult:
        """Restart in the environment's own cluster."""
        return self.backend(target).restart(target)

    def logs(
        self,
        target: Target,
        *,
        release: str | None = None,
        tail: int = 100,
        after: str | None = None,
    ) -> LogChunk:
        """Pod logs from the environment's own cluster."""
        return self.backend(target).logs(target, release=release, tail=tail, after=after)
