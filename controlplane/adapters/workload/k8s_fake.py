"""In-memory Kubernetes API for Deployments, with a toy controller that rolls them out."""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from controlplane.adapters.workload.k8s_manifest import JSON, apply_merge_patch
from controlplane.errors import AdapterError, AdapterUnavailable


class FakeCluster:
    """A ClusterApi: the API server keeps objects; the controller updates status on reads.

    Images listed in `stalled_images` never become available (a crash-looping release), so a
    rollout of them stays partially updated until the backend gives up and restores. Each pod
    template gets one pod, which logs one line as it starts; `write_log` adds more.
    """

    def __init__(self, *, reads_per_step: int = 1, down: bool = False) -> None:
        self.namespaces: set[str] = set()
        self.objects: dict[tuple[str, str], JSON] = {}
        self.stalled_images: set[str] = set()
        self.reads_per_step = reads_per_step
        self.down = down
        self.requests: list[tuple[str, str, str]] = []
        self.services: dict[tuple[str, str], JSON] = {}
        self.applied: dict[tuple[str, str, str], JSON] = {}
        self.pods: dict[tuple[str, str], JSON] = {}
        self.pod_logs: dict[tuple[str, str], list[tuple[datetime, str]]] = {}
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

    def apply_object(self, body: dict[str, Any]) -> None:
        """Create or replace an object (a Namespace joins `namespaces`, a Service `services`)."""
        kind, meta = body["kind"], body["metadata"]
        self._log("apply", meta.get("namespace", ""), f"{kind}/{meta['name']}")
        with self._lock:
            if kind == "Namespace":
                self.namespaces.add(meta["name"])
                self.applied[("", kind, meta["name"])] = copy.deepcopy(body)
                return
            if meta.get("namespace") not in self.namespaces:
                raise AdapterError(f"namespace {meta.get('namespace')} does not exist")
            if kind == "Service":
                self.services[(meta["namespace"], meta["name"])] = copy.deepcopy(body)
            self.applied[(meta["namespace"], kind, meta["name"])] = copy.deepcopy(body)

    def ensure_service(self, namespace: str, body: dict[str, Any]) -> None:
        """Keep the first Service of each name."""
        self._log("ensure_service", namespace, body["metadata"]["name"])
        self.services.setdefault((namespace, body["metadata"]["name"]), copy.deepcopy(body))

    def list_pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """Pods in the namespace whose labels match `key=value`."""
        self._log("list_pods", namespace, selector)
        key, _, value = selector.partition("=")
        with self._lock:
            return [
                copy.deepcopy(pod) for (ns, _), pod in self.pods.items()
                if ns == namespace and pod["metadata"]["labels"].get(key) == value
            ]  # fmt: skip

    def read_pod_log(
        self, namespace: str, name: str, *, tail_lines: int | None, since_seconds: int | None
    ) -> str:
        """Timestamped lines like the kubelet serves them."""
        self._log("read_pod_log", namespace, name)
        with self._lock:
            if (namespace, name) not in self.pod_logs:
                raise AdapterError(f"pod {namespace}/{name} not found")
            lines = list(self.pod_logs[(namespace, name)])
        if since_seconds is not None:
            lines = [
                (t, x)
                for t, x in lines
                if t >= datetime.now(UTC) - timedelta(seconds=since_seconds)
            ]
        if tail_lines is not None:
            lines = lines[-tail_lines:] if tail_lines > 0 else []
        return "".join(f"{t.strftime('%Y-%m-%dT%H:%M:%S.%fZ')} {x}\n" for t, x in lines)

    def write_log(self, namespace: str, pod: str, line: str) -> None:
        """What a pod prints next (for tests)."""
        with self._lock:
            self.pod_logs[(namespace, pod)].append((datetime.now(UTC), line))

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
        self._run_pods(obj, keep_old=image in self.stalled_images and want > 0)

    def _run_pods(self, obj: JSON, *, keep_old: bool) -> None:
        """One pod for the current template; the old template's pods go once it is rolled out."""
        namespace, template = obj["metadata"]["namespace"], obj["spec"]["template"]
        digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
        name = f"{obj['metadata']['name']}-{digest}"
        owner = obj["metadata"]["name"]
        if not keep_old:
            for key in [k for k, p in self.pods.items() if p["metadata"]["owner"] == owner]:
                if key != (namespace, name) and key[0] == namespace:
                    del self.pods[key]
        if (namespace, name) in self.pods:
            return
        meta = copy.deepcopy(template.get("metadata") or {})
        meta.update(name=name, namespace=namespace, owner=owner)
        meta["creationTimestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.pods[(namespace, name)] = {"metadata": meta, "status": {"phase": "Running"}}
        image = template["spec"]["containers"][0]["image"]
        self.pod_logs[(namespace, name)] = [(datetime.now(UTC), f"starting {image}")]

    def _stamp(self, obj: JSON) -> JSON:
        self._version += 1
        obj["metadata"]["resourceVersion"] = str(self._version)
        return copy.deepcopy(obj)

    def _log(self, op: str, namespace: str, name: str) -> None:
        self.requests.append((op, namespace, name))
        if self.down:
            raise AdapterUnavailable("fake cluster API is unreachable")
