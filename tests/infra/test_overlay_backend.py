"""One source of manifests: what the Kubernetes backend creates is the rendered overlay itself,
apart from the service container's image, its MODEL_VERSION and the release annotation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from controlplane.adapters.base import Release, Target
from controlplane.adapters.workload import k8s_manifest as m
from controlplane.adapters.workload.k8s import KubernetesBackend
from tests.infra.conftest import ENVIRONMENTS, SERVICES

SERVER_FIELDS = ("generation", "uid", "resourceVersion", "creationTimestamp", "managedFields")
RESOURCES = {
    "Deployment": "apps/v1/deployments",
    "Service": "v1/services",
    "ServiceAccount": "v1/serviceaccounts",
    "NetworkPolicy": "networking.k8s.io/v1/networkpolicies",
    "HorizontalPodAutoscaler": "autoscaling/v2/horizontalpodautoscalers",
    "PodDisruptionBudget": "policy/v1/poddisruptionbudgets",
}


def _release(service: str) -> Release:
    digest = f"{SERVICES.index(service) + 1}" * 64
    return Release(
        f"{service}@sha256:{digest}",
        image=f"registry.example/mlops/{service}@sha256:{digest}",
        model_version=f"{service}-2026-12-03-{digest[:8]}",
    )


def _as_stored(raw: dict[str, Any]) -> dict[str, Any]:
    """The object without what the API server adds."""
    obj = copy.deepcopy(raw)
    obj.pop("status", None)
    for key in SERVER_FIELDS:
        obj.get("metadata", {}).pop(key, None)
    return obj


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    """JSON paths where two documents differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d
            for k in sorted(set(a) | set(b))
            for d in _differences(a.get(k), b.get(k), f"{path}/{k}")
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{path}/{i}")
        ]
    return [] if a == b else [path]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_backend_applies_the_rendered_overlay_to_a_cluster(
    env: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    """Each service deployed through the official client to kmock is its overlay's objects;
    the Deployment differs only in image, MODEL_VERSION and the release annotation."""
    pytest.importorskip("kmock")
    kubernetes = pytest.importorskip("kubernetes")
    import kmock

    from controlplane.adapters.workload.k8s_api import KubeClusterApi
    from tests.adapters.kmock_cluster import kmock_in_thread

    with kmock_in_thread() as (cluster, url):
        conf = kubernetes.client.Configuration()
        conf.host = url
        api = KubeClusterApi(kubernetes.client.ApiClient(conf), manage_namespaces=False)
        backend = KubernetesBackend(api, timeout_s=5.0, poll_s=0.03)
        for service in SERVICES:
            result = backend.deploy(Target(service, env), _release(service))
            assert result.ok, result.reason
        stored = {
            (kind, name): _as_stored(obj.raw)
            for (resource, _, name), obj in cluster.km.objects.items()
            for kind, plural in RESOURCES.items()
            if resource == kmock.resource(plural)
        }
    expected = {
        (o["kind"], o["metadata"]["name"]): o
        for o in rendered[env]
        if o["kind"] in RESOURCES
        and o["metadata"]["labels"]["app.kubernetes.io/name"] != "controlplane"
    }
    assert stored.keys() == expected.keys()
    for (kind, name), obj in expected.items():
        if kind != "Deployment":
            assert stored[kind, name] == obj, (kind, name)
            continue
        want = copy.deepcopy(obj)
        want["spec"]["template"] = m.release_template(
            obj["spec"]["template"], Target(name, env), _release(name)
        )
        assert stored[kind, name] == want
        changed = _differences(obj, stored[kind, name])
        assert changed == [
            "/spec/template/metadata/annotations",
            "/spec/template/spec/containers/0/env",
            "/spec/template/spec/containers/0/image",
        ]
        [container] = stored[kind, name]["spec"]["template"]["spec"]["containers"]
        assert container["image"] == _release(name).image
        assert container["env"][-1] == {
            "name": "MODEL_VERSION",
            "value": _release(name).model_version,
        }


def test_a_second_rollout_patches_only_the_release_fields(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """Rolling v2 over v1 sends a template patch with just image, MODEL_VERSION, annotation."""
    from controlplane.adapters.workload.k8s_fake import FakeCluster

    cluster = FakeCluster()
    backend = KubernetesBackend(cluster, timeout_s=1.0, poll_s=0.01)
    target = Target("bankchurn", "staging")
    v2 = Release("bankchurn@sha256:" + "9" * 64, image="r/bankchurn@sha256:" + "9" * 64)
    assert backend.deploy(target, _release("bankchurn")).ok
    sent: list[dict[str, Any]] = []
    patch = cluster.patch_deployment
    cluster.patch_deployment = lambda ns, name, body: sent.append(body) or patch(ns, name, body)  # type: ignore[method-assign]
    assert backend.deploy(target, v2).ok
    [rollout] = sent
    template = rollout["spec"]["template"]
    assert set(rollout["spec"]) == {"template"} and set(template) == {"metadata", "spec"}
    assert template["metadata"] == {"annotations": {m.RELEASE_ANNOTATION: v2.ref}}
    [container] = template["spec"]["containers"]  # merge patch: the list is sent whole
    assert container["image"] == v2.image
    assert container["env"][-1] == {"name": "MODEL_VERSION", "value": "9" * 12}


def test_an_environment_without_an_overlay_is_refused() -> None:
    """No overlay, no rollout: the backend says which environment and where it looked."""
    from controlplane.adapters.workload.k8s_fake import FakeCluster
    from controlplane.errors import AdapterError

    backend = KubernetesBackend(FakeCluster(), timeout_s=1.0, poll_s=0.01)
    with pytest.raises(AdapterError, match="no kustomize overlay for environment 'qa'"):
        backend.deploy(Target("bankchurn", "qa"), _release("bankchurn"))
