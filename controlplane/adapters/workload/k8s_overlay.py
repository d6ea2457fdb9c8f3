"""The objects a rollout applies: the environment's kustomize overlay, rendered, for one service.

One source of manifests: infra/k8s/overlays/<environment> is what CI renders and validates and
what the Kubernetes backend creates and patches; the backend changes only the service container's
image, its MODEL_VERSION and the release annotation (k8s_manifest.release_template).
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path

from controlplane.adapters.workload import kustomize
from controlplane.adapters.workload.k8s_manifest import JSON
from controlplane.errors import AdapterError

NAME_LABEL = "app.kubernetes.io/name"
COMPONENT_LABEL = "app.kubernetes.io/component"
ENVIRONMENT_COMPONENT = "environment"  # the Namespace and its network policies
APPLY_ORDER = ("Namespace", "NetworkPolicy", "ServiceAccount", "Service", "Deployment")


def default_root() -> Path:
    """infra/k8s of the source tree this package runs from, else of the working directory."""
    here = Path(__file__).resolve().parents[3] / "infra" / "k8s"
    return here if here.is_dir() else Path.cwd() / "infra" / "k8s"


class Overlays:
    """Renders `<root>/overlays/<environment>` once per environment and hands out copies."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_root()
        self._rendered: dict[str, list[JSON]] = {}
        self._lock = threading.Lock()

    def environment(self, environment: str) -> list[JSON]:
        """Every object of the environment's overlay (a copy: callers may change it)."""
        with self._lock:
            if environment not in self._rendered:
                directory = self.root / "overlays" / environment
                if not directory.is_dir():
                    raise AdapterError(
                        f"no kustomize overlay for environment {environment!r} in {self.root}",
                        {"environment": environment, "overlays": str(self.root / "overlays")},
                    )
                self._rendered[environment] = kustomize.render(directory)
            return copy.deepcopy(self._rendered[environment])

    def for_service(self, environment: str, service: str, *, namespace: str) -> list[JSON]:
        """The service's objects and the environment's own, moved to `namespace`, in apply order."""
        chosen = [obj for obj in self.environment(environment) if _belongs(obj, service)]
        if not any(o["kind"] == "Deployment" and o["metadata"]["name"] == service for o in chosen):
            raise AdapterError(
                f"the {environment} overlay has no Deployment {service!r}",
                {"environment": environment, "service": service},
            )
        for obj in chosen:
            if obj["kind"] == "Namespace":
                obj["metadata"]["name"] = namespace
            else:
                obj["metadata"]["namespace"] = namespace
        return sorted(chosen, key=_order)


def _belongs(obj: JSON, service: str) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if obj.get("kind") in kustomize.CLUSTER_SCOPED - {"Namespace"}:
        return False  # cluster-wide RBAC is installed with the plane, not by a rollout
    return labels.get(NAME_LABEL) == service or labels.get(COMPONENT_LABEL) == ENVIRONMENT_COMPONENT


def _order(obj: JSON) -> int:
    kind = obj.get("kind", "")
    return APPLY_ORDER.index(kind) if kind in APPLY_ORDER else len(APPLY_ORDER) - 1
