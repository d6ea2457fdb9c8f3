"""kmock's Kubernetes emulator plus what it lacks: generation bumps and a Deployment controller."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import kmock

DEPLOYMENTS = "apps/v1/deployments"
PODS = "v1/pods"
SERVICES = "v1/services"
# What else a rollout applies from the overlay (k8s_overlay): kmock stores any resource it knows.
OVERLAY_RESOURCES = (
    "v1/serviceaccounts",
    "networking.k8s.io/v1/networkpolicies",
    "autoscaling/v2/horizontalpodautoscalers",
    "policy/v1/poddisruptionbudgets",
)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def settle(raw: dict[str, Any], stalled: set[str]) -> dict[str, Any]:
    """The status a controller reports once it has acted on the current generation."""
    want = int(raw.get("spec", {}).get("replicas", 1))
    image = raw["spec"]["template"]["spec"]["containers"][0]["image"]
    gen = raw.get("metadata", {}).get("generation", 1)
    if image in stalled and want > 0:  # new pods crash-loop; the old ones stay available
        counts = {"replicas": want + 1, "updatedReplicas": 1, "availableReplicas": want}
    else:
        counts = {"replicas": want, "updatedReplicas": want, "availableReplicas": want}
    return {"observedGeneration": gen, "readyReplicas": counts["availableReplicas"], **counts}


class KmockCluster:
    """Wires the API-server and controller behaviour kmock 0.8 does not have onto an emulator.

    The controller also starts one pod per pod template (older ones are kept, unlike under a real
    ReplicaSet), and the kubelet's log endpoint serves each pod's timestamped lines.
    """

    def __init__(self, km: kmock.KubernetesEmulator) -> None:
        self.km = km
        self.stalled: set[str] = set()
        self.pod_logs: dict[str, list[tuple[str, str]]] = {}
        self._specs: dict[Any, str] = {}
        for resource in (DEPLOYMENTS, PODS, SERVICES, *OVERLAY_RESOURCES):
            km.resources[resource] = {}
        # The API server bumps metadata.generation in the same request that changes the spec.
        km[kmock.action.CREATE, kmock.resource(DEPLOYMENTS)] << self._bump
        km[kmock.action.UPDATE, kmock.resource(DEPLOYMENTS)] << self._bump
        km[kmock.resource(PODS), kmock.subresource("log")] << self._log

    def write_log(self, pod: str, line: str) -> None:
        """What a pod prints next."""
        self.pod_logs[pod].append((_now(), line))

    def _log(self, request: kmock.Request) -> bytes:
        """GET .../pods/<name>/log?timestamps=true&tailLines=N (sinceSeconds is not emulated)."""
        lines = self.pod_logs.get(request.name or "", [])
        if "tailLines" in request.params:
            tail = int(request.params["tailLines"])
            lines = lines[-tail:] if tail > 0 else []
        return "".join(f"{stamp} {text}\n" for stamp, text in lines).encode()

    def _run_pods(self, raw: dict[str, Any]) -> None:
        template, meta = raw["spec"]["template"], raw["metadata"]
        digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
        name, namespace = f"{meta['name']}-{digest}", meta.get("namespace")
        if not any(k[2] == name for k in self.km.objects):
            labels = dict(template["metadata"].get("labels") or {})
            annotations = dict(template["metadata"].get("annotations") or {})
            pod_meta = {"name": name, "namespace": namespace, "labels": labels}
            pod_meta |= {"annotations": annotations, "creationTimestamp": _now()}
            self.km.objects[kmock.resource(PODS), namespace, name] = {"metadata": pod_meta}
            image = template["spec"]["containers"][0]["image"]
            self.pod_logs[name] = [(_now(), f"starting {image}")]

    def _bump(self, request: kmock.Request) -> dict[str, Any]:
        name = request.name or request.data["metadata"]["name"]
        key = (kmock.resource(DEPLOYMENTS), request.namespace, name)
        obj = self.km.objects[key]
        spec = json.dumps(obj.raw.get("spec"), sort_keys=True)
        if self._specs.get(key) != spec:
            self._specs[key] = spec
            generation = int(obj.raw.get("metadata", {}).get("generation", 0)) + 1
            obj.patch({"metadata": {"generation": generation}})
        return dict(obj.raw)

    async def controller(self) -> None:
        """Act on every Deployment a moment after it changes, like kube-controller-manager."""
        while True:
            await asyncio.sleep(0.02)
            for obj in list(self.km.objects.values()):
                if obj.deleted or "template" not in obj.raw.get("spec", {}):
                    continue
                status = settle(obj.raw, self.stalled)
                if obj.raw.get("status") != status:
                    obj.patch({"status": status})
                    self._run_pods(obj.raw)


@contextmanager
def kmock_in_thread() -> Iterator[tuple[KmockCluster, str]]:
    """Run the emulator and its controller on a background event loop, for sync clients."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        box["stop"] = asyncio.Event()
        async with kmock.KubernetesEmulator() as km, kmock.Server(km) as server:
            cluster = KmockCluster(km)
            task = asyncio.create_task(cluster.controller())
            box.update(cluster=cluster, url=str(server.url).rstrip("/"))
            started.set()
            await box["stop"].wait()
            task.cancel()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(10), "kmock did not start"
    try:
        yield box["cluster"], box["url"]
    finally:
        loop.call_soon_threadsafe(box["stop"].set)
        thread.join(10)
        loop.close()
