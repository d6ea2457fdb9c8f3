"""In-memory Kubernetes API for Deployments, with a toy controller that rolls them out."""

from __future__ import annotations

import copy
import threading
from typing import Any

from controlplane.adapters.workload.k8s_manifest import JSON, apply_merge_patch
from controlplane.errors import AdapterError, AdapterUnavailable


class FakeCluster:
    """A ClusterApi: the API server keeps objects; the controller updates status on reads.

    Images listed in `stalled_images` never become available (a crash-looping release), so a
    rollout of them stays partially updated until the backend gives up and restores.
    """

    def __init__(self, *, reads_per_step: int = 1, down: bool = False) -> None:
        self.namespaces: set[str] = set()
        self.objects: dict[tuple[str, str], JSON] = {}
        self.stalled_images: set[str] = set()
        self.reads_per_step = reads_per_step
        self.down = down
        self.requests: list[tuple[str, str, str]] = []
        self._reads: dict[tuple[str, str], int] = {}
        self._version = 0
        self._lock = threading.Lock()

    def ensure_namespace(self, namespace: str) -> None:
        """Create the namespace on first use."""
        self._log("ensure_namespace", namespace, "")
        self.namespaces.add(namespace)

    def read_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        """Return the object after letting the controller take one step."""
        self._log("read", namespace, name)
        with self._lock:
            obj = self.objects.get((namespace, name))
            if obj is None:
                return None
            count = self._reads[(namespace, name)] = self._reads.get((namespace, name), 0) + 1
            if count % self.reads_per_step == 0:
                self._reconcile(obj)
            return copy.deepcopy(obj)

    def create_deployment(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Store a new Deployment at generation 1."""
        name = body["metadata"]["name"]
        self._log("create", namespace, name)
        if namespace not in self.namespaces:
            raise AdapterError(f"namespace {namespace} does not exist")
        with self._lock:
            if (namespace, name) in self.objects:
                raise AdapterError(f"deployment {namespace}/{name} already exists")
            obj = copy.deepcopy(body)
            obj["metadata"].update(namespace=namespace, generation=1, uid=f"uid-{name}")
            obj["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
            obj["status"] = {}
            self.objects[(namespace, name)] = obj
            return self._stamp(obj)

    def patch_deployment(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """Apply a merge patch; a spec change bumps metadata.generation like the API server."""
        self._log("patch", namespace, name)
        with self._lock:
            obj = self.objects.get((namespace, name))
            if obj is None:
                raise AdapterError(f"deployment {namespace}/{name} not found")
            new = apply_merge_patch(obj, patch)
            if new.get("spec") != obj.get("spec"):
                new["metadata"]["generation"] = int(obj["metadata"]["generation"]) + 1
            self.objects[(namespace, name)] = new
            return self._stamp(new)

    def _reconcile(self, obj: JSON) -> None:
        """One controller step: settle the rollout, or leave a stalled image half rolled out."""
        want = int(obj["spec"].get("replicas", 1))
        image = obj["spec"]["template"]["spec"]["containers"][0]["image"]
        status = obj.setdefault("status", {})
        status["observedGeneration"] = obj["metadata"]["generation"]
        if image in self.stalled_images and want > 0:
            status.update(replicas=want + 1, updatedReplicas=1, availableReplicas=want)
            status["readyReplicas"] = want
        else:
            status.update(replicas=want, updatedReplicas=want, availableReplicas=want)
            status["readyReplicas"] = want

    def _stamp(self, obj: JSON) -> JSON:
        self._version += 1
        obj["metadata"]["resourceVersion"] = str(self._version)
        return copy.deepcopy(obj)

    def _log(self, op: str, namespace: str, name: str) -> None:
        self.requests.append((op, namespace, name))
        if self.down:
            raise AdapterUnavailable("fake cluster API is unreachable")
