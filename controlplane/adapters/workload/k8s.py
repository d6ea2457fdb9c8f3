"""Kubernetes workload backend: one Deployment per service in a namespace per environment."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from controlplane.adapters.base import (
    ClusterApi,
    LogChunk,
    Release,
    RolloutResult,
    Target,
    WorkloadStatus,
)
from controlplane.adapters.workload import k8s_manifest as m
from controlplane.adapters.workload.k8s_overlay import Overlays
from controlplane.errors import AdapterError, InvalidSpec, NotFound

CLOCK_SKEW_S = 5  # asked-for log window margin; lines are then filtered by their own timestamps


class ManifestApi(ClusterApi, Protocol):
    """The cluster calls plus one to create-or-update any other object of an overlay."""

    def apply_object(self, body: dict[str, Any]) -> None:
        """Create the object, or merge-patch the one of that name to match it."""
        ...


class KubernetesBackend:
    """Rolls out the environment's overlay with the release's image, MODEL_VERSION and
    annotation; waits; puts the old pod template back when the rollout does not complete."""

    name = "kubernetes"

    def __init__(
        self,
        api: ManifestApi,
        *,
        overlays: Overlays | None = None,
        timeout_s: float = 300.0,
        poll_s: float = 2.0,
        replicas: int | None = None,
        namespace_prefix: str = "",
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.overlays = overlays or Overlays()
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.replicas = replicas
        self.namespace_prefix = namespace_prefix
        self._sleep = sleep
        self._monotonic = monotonic

    def namespace(self, target: Target) -> str:
        """One namespace per environment (optionally prefixed)."""
        return f"{self.namespace_prefix}{target.environment}"

    def deploy(self, target: Target, release: Release) -> RolloutResult:
        """Roll `release` out and wait; when it does not complete, restore the previous template."""
        return self._rollout(target, release, "deploy")

    def restore(self, target: Target, previous_release: Release) -> RolloutResult:
        """Roll back to `previous_release` the same guarded way."""
        return self._rollout(target, previous_release, "restore")

    def restart(self, target: Target) -> RolloutResult:
        """Rolling restart (like `kubectl rollout restart`): bump a template annotation and wait."""
        ns, started = self.namespace(target), self._monotonic()
        current = self._read(target)
        ref = m.release_of(current)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        patch = {
            "spec": {"template": {"metadata": {"annotations": {m.RESTARTED_ANNOTATION: stamp}}}}
        }
        self.api.patch_deployment(ns, target.service, patch)
        done, why = self._wait(ns, target.service)
        return RolloutResult(
            done, target, ref, ref, "" if done else f"restart did not complete: {why}",
            duration_s=self._monotonic() - started, details={"action": "restart"},
        )  # fmt: skip

    def scale(self, target: Target, replicas: int) -> WorkloadStatus:
        """Set spec.replicas and wait (up to the timeout) for the controller to settle."""
        if replicas < 0:
            raise AdapterError(f"replicas must be >= 0, got {replicas}")
        self._read(target)
        self.api.patch_deployment(
            self.namespace(target), target.service, {"spec": {"replicas": replicas}}
        )
        self._wait(self.namespace(target), target.service)
        return self.status(target)

    def status(self, target: Target) -> WorkloadStatus:
        """Release, replica counts and rollout state of the target's Deployment."""
        dep = self.api.read_deployment(self.namespace(target), target.service)
        if dep is None:
            return WorkloadStatus(target, None, "absent")
        state, why = m.rollout_state(dep)
        status = dep.get("status") or {}
        state = {"complete": "running", "failed": "degraded"}.get(state, state)
        return WorkloadStatus(
            target, m.release_of(dep), state,
            replicas=int(dep["spec"].get("replicas", 1)),
            ready_replicas=int(status.get("readyReplicas") or 0),
            url=m.service_url(target, self.namespace(target)),
            since=dep.get("metadata", {}).get("creationTimestamp"),
            details={"namespace": self.namespace(target), "rollout": why},
        )  # fmt: skip

    def logs(
        self,
        target: Target,
        *,
        release: str | None = None,
        tail: int = 100,
        after: str | None = None,
    ) -> LogChunk:
        """The newest pod's log of the current release (or of `release`, while its pods exist);
        with `after` (a cursor `<pod>@<timestamp>`) only the lines stamped later."""
        ns = self.namespace(target)
        wanted = release or m.release_of(self._read(target)) or ""
        pods = [
            p for p in self.api.list_pods(ns, m.selector(target))
            if wanted and (m.pod_release(p) or "").startswith(wanted)
        ]  # fmt: skip
        if not pods:
            raise NotFound(f"no pod of {wanted or target.key} in namespace {ns}", {"namespace": ns})
        pod = max(pods, key=lambda p: p.get("metadata", {}).get("creationTimestamp") or "")
        name = pod["metadata"]["name"]
        since = _cursor_time(after)
        text = self.api.read_pod_log(
            ns, name, tail_lines=None if after else tail, since_seconds=_window(since)
        )
        stamped = [_stamped(line) for line in text.splitlines() if line]
        if since is not None:
            stamped = [(ts, line) for ts, line in stamped if _order(ts) > _order(since)]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        last = stamped[-1][0] if stamped else since or now
        lines = [line for _, line in stamped]
        if after is None:
            lines = lines[-tail:] if tail > 0 else []
        return LogChunk(target, m.pod_release(pod), f"pod/{name}", lines, f"{name}@{last}")

    def _rollout(self, target: Target, release: Release, action: str) -> RolloutResult:
        ns, name, started = self.namespace(target), target.service, self._monotonic()
        desired, others = self._desired(target, release, ns)
        for obj in others:
            self.api.apply_object(obj)
        current = self.api.read_deployment(ns, name)
        if current is None:
            self.api.create_deployment(ns, desired)
            previous_ref, previous_template = None, None
        else:
            previous_ref, previous_template = m.release_of(current), current["spec"]["template"]
            self.api.patch_deployment(ns, name, _spec_patch(current["spec"], desired["spec"]))
        done, why = self._wait(ns, name)
        details: dict[str, object] = {"action": action, "namespace": ns}
        if done:
            return RolloutResult(
                True, target, release.ref, previous_ref, url=m.service_url(target, ns),
                duration_s=self._monotonic() - started, details=details,
            )  # fmt: skip
        reason = f"{action} of {release.ref} did not complete: {why}"
        serving: str | None = None
        if previous_template is not None:
            now = self.api.read_deployment(ns, name) or {"spec": {"template": {}}}
            self.api.patch_deployment(
                ns, name, _template_patch(now["spec"]["template"], previous_template)
            )
            restored, restore_why = self._wait(ns, name)
            details["restored"] = restored
            serving = previous_ref
            reason += (
                f"; previous spec ({previous_ref}) restored"
                if restored
                else f"; restoring the previous spec did not complete either: {restore_why}"
            )
        return RolloutResult(
            False, target, serving, previous_ref, reason, duration_s=self._monotonic() - started,
            details=details,
        )  # fmt: skip

    def _desired(self, target: Target, release: Release, ns: str) -> tuple[m.JSON, list[m.JSON]]:
        """The overlay's Deployment with the release in its template, and the service's other
        objects (Namespace, network policies, ServiceAccount, Service, HPA, PDB)."""
        objects = self.overlays.for_service(target.environment, target.service, namespace=ns)
        deployment = next(
            o
            for o in objects
            if o["kind"] == "Deployment" and o["metadata"]["name"] == name_of(target)
        )
        others = [o for o in objects if o is not deployment]
        spec = deployment["spec"]
        spec["template"] = m.release_template(spec["template"], target, release)
        if self.replicas is not None:
            spec["replicas"] = self.replicas
        return deployment, others

    def _wait(self, namespace: str, name: str) -> tuple[bool, str]:
        """Poll until the rollout completes, fails, or the timeout passes."""
        deadline = self._monotonic() + self.timeout_s
        why = "not read yet"
        while True:
            dep = self.api.read_deployment(namespace, name)
            if dep is None:
                return False, "the Deployment disappeared"
            state, why = m.rollout_state(dep)
            if state in ("complete", "stopped"):
                return True, why
            if state == "failed":
                return False, why
            if self._monotonic() >= deadline:
                return False, f"timed out after {self.timeout_s:g}s ({why})"
            self._sleep(self.poll_s)

    def _read(self, target: Target) -> m.JSON:
        dep = self.api.read_deployment(self.namespace(target), target.service)
        if dep is None:
            raise NotFound(f"no Deployment {target.service} in namespace {self.namespace(target)}")
        return dep


def name_of(target: Target) -> str:
    """The Deployment (and Service) name of a target: the service's name."""
    return target.service


def _spec_patch(current: m.JSON, desired: m.JSON) -> m.JSON:
    """Merge patch that brings the Deployment's spec to the overlay's, except `replicas`
    (the HPA owns it once the Deployment exists)."""
    keys = [k for k in desired if k != "replicas"]
    have = {k: current[k] for k in keys if k in current}
    return {"spec": m.merge_patch(have, {k: desired[k] for k in keys})}


def _template_patch(current: m.JSON, desired: m.JSON) -> m.JSON:
    """Merge patch for the pod template (it carries the release annotation too)."""
    return {"spec": {"template": m.merge_patch(current, desired)}}


def _cursor_time(after: str | None) -> str | None:
    """The timestamp a `<pod>@<RFC 3339>` cursor carries."""
    if after is None:
        return None
    _, at, stamp = after.rpartition("@")
    if not at or not stamp[:4].isdigit():
        raise InvalidSpec(f"{after!r} is not a log cursor", {"field": "after"})
    return stamp


def _window(since: str | None) -> int | None:
    """Seconds back to `since`, with a margin for clock skew (the API has no sinceTime here)."""
    if since is None:
        return None
    then = datetime.fromisoformat(since.split(".")[0].removesuffix("Z")).replace(tzinfo=UTC)
    return max(1, math.ceil((datetime.now(UTC) - then).total_seconds()) + CLOCK_SKEW_S)


def _stamped(line: str) -> tuple[str, str]:
    """Split `2026-01-01T00:00:00.123456789Z text` into its timestamp and text."""
    stamp, _, text = line.partition(" ")
    return stamp, text


def _order(stamp: str) -> tuple[str, int]:
    """A sortable form of an RFC 3339 timestamp whose fraction may have 0 to 9 digits."""
    whole, _, fraction = stamp.removesuffix("Z").partition(".")
    digits = fraction[: len(fraction) - len(fraction.lstrip("0123456789"))]
    return whole, int((digits + "000000000")[:9])
