"""Pure Kubernetes JSON: the template a release needs, merge patches, rollout judgement.

The objects themselves come from the kustomize overlay (k8s_overlay); nothing here writes one.
"""

from __future__ import annotations

import copy
from typing import Any

from controlplane.adapters.base import Release, Target

RELEASE_ANNOTATION = "controlplane.mlops/release"
RESTARTED_ANNOTATION = "kubectl.kubernetes.io/restartedAt"

JSON = dict[str, Any]


def image_of(release: Release) -> str:
    """The OCI image to run; the release reference itself when no other image is given."""
    return release.image or release.ref


def service_url(target: Target, namespace: str) -> str:
    """The Service's in-cluster address (port 80)."""
    return f"http://{target.service}.{namespace}.svc.cluster.local"


def release_template(template: JSON, target: Target, release: Release) -> JSON:
    """`template` with the service container's image, MODEL_VERSION and release annotation set."""
    out = copy.deepcopy(template)
    meta = out.setdefault("metadata", {})
    meta["annotations"] = {**(meta.get("annotations") or {}), RELEASE_ANNOTATION: release.ref}
    containers = out["spec"]["containers"]
    container = next((c for c in containers if c.get("name") == target.service), containers[0])
    container["image"] = image_of(release)
    version = release.model_version or release.digest[:12]
    env = [e for e in container.get("env") or [] if e.get("name") != "MODEL_VERSION"]
    container["env"] = [*env, {"name": "MODEL_VERSION", "value": version}]
    return out


def selector(target: Target) -> str:
    """The label selector of the target's pods."""
    return f"app.kubernetes.io/name={target.service}"


def pod_release(pod: JSON) -> str | None:
    """The release a pod runs (its template's annotation, copied onto the pod)."""
    return ((pod.get("metadata") or {}).get("annotations") or {}).get(RELEASE_ANNOTATION)


def release_of(deployment: JSON) -> str | None:
    """The release a Deployment's pod template was rolled out with."""
    annotations = deployment.get("spec", {}).get("template", {}).get("metadata", {})
    return (annotations.get("annotations") or {}).get(RELEASE_ANNOTATION)


def merge_patch(current: Any, desired: Any) -> Any:
    """The RFC 7386 merge patch that turns `current` into `desired` (None deletes a key)."""
    if not isinstance(current, dict) or not isinstance(desired, dict):
        return copy.deepcopy(desired)
    patch: JSON = {key: None for key in current if key not in desired}
    for key, value in desired.items():
        if key not in current:
            patch[key] = copy.deepcopy(value)
        elif current[key] != value:
            patch[key] = merge_patch(current[key], value)
    return patch


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch (what the API server does for merge-patch+json)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out: JSON = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = apply_merge_patch(out.get(key), value)
    return out


def rollout_state(deployment: JSON) -> tuple[str, str]:
    """(state, why): complete, progressing, failed or stopped, from generation and replicas."""
    spec, status = deployment.get("spec", {}), deployment.get("status") or {}
    want = int(spec.get("replicas", 1))
    generation = int(deployment.get("metadata", {}).get("generation", 0))
    observed = int(status.get("observedGeneration", 0))
    counts = {
        k: int(status.get(k) or 0) for k in ("replicas", "updatedReplicas", "availableReplicas")
    }
    numbers = (
        f"observedGeneration {observed}/{generation}, updated {counts['updatedReplicas']}, "
        f"available {counts['availableReplicas']}, total {counts['replicas']} of {want} replicas"
    )
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return "failed", f"progress deadline exceeded ({numbers})"
    if observed < generation:
        return "progressing", numbers
    if counts["updatedReplicas"] == counts["availableReplicas"] == counts["replicas"] == want:
        return ("stopped" if want == 0 else "complete"), numbers
    return "progressing", numbers
