"""Kubernetes backend details: manifests, patches, rollout judgement, restore, error translation."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controlplane.adapters.base import Release, Target
from controlplane.adapters.workload import k8s_manifest as m
from controlplane.adapters.workload.k8s import KubernetesBackend
from controlplane.adapters.workload.k8s_fake import FakeCluster
from controlplane.errors import AdapterError, AdapterUnavailable, InvalidSpec, NotFound

TARGET = Target("bankchurn", "staging")
V1 = Release("registry.local/bankchurn@sha256:" + "1" * 64, model_version="bankchurn-1")
V2 = Release(
    "registry.local/bankchurn@sha256:" + "2" * 64, image="ghcr.io/acme/bankchurn@sha256:" + "2" * 64
)


def _backend(cluster: FakeCluster, **kwargs: Any) -> KubernetesBackend:
    return KubernetesBackend(cluster, timeout_s=kwargs.pop("timeout_s", 1.0), poll_s=0.01, **kwargs)


def test_first_deploy_creates_namespace_and_a_valid_deployment() -> None:
    """The namespace is the environment; the Deployment carries image, MODEL_VERSION, annotation."""
    cluster = FakeCluster()
    assert _backend(cluster).deploy(TARGET, V1).ok
    assert cluster.namespaces == {"staging"}
    dep = cluster.objects[("staging", "bankchurn")]
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == V1.ref
    assert {"name": "MODEL_VERSION", "value": "bankchurn-1"} in container["env"]
    assert m.release_of(dep) == V1.ref


def test_written_manifests_pass_kubernetes_validate() -> None:
    """The created Deployment and the patched template are valid apps/v1 objects (strict schema)."""
    kv = pytest.importorskip("kubernetes_validate")
    cluster = FakeCluster()
    _backend(cluster).deploy(TARGET, V1)
    manifest = copy.deepcopy(cluster.objects[("staging", "bankchurn")])
    for key in ("generation", "uid", "creationTimestamp", "resourceVersion"):
        manifest["metadata"].pop(key, None)
    manifest.pop("status", None)
    kv.validate(manifest, kv.latest_version(), strict=True)
    patched = copy.deepcopy(manifest)
    patched["spec"]["template"] = m.release_template(manifest["spec"]["template"], TARGET, V2)
    kv.validate(patched, kv.latest_version(), strict=True)
    broken = copy.deepcopy(manifest)
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kv.ValidationError):
        kv.validate(broken, kv.latest_version(), strict=True)


def test_patch_touches_only_the_template_and_uses_the_release_image() -> None:
    """Image comes from release.image when given; MODEL_VERSION falls back to the digest."""
    cluster = FakeCluster()
    backend = _backend(cluster)
    backend.deploy(TARGET, V1)
    before = copy.deepcopy(cluster.objects[("staging", "bankchurn")])
    assert backend.deploy(TARGET, V2).ok
    after = cluster.objects[("staging", "bankchurn")]
    container = after["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == V2.image
    assert [e for e in container["env"] if e["name"] == "MODEL_VERSION"] == [
        {"name": "MODEL_VERSION", "value": "2" * 12}
    ]
    assert after["spec"]["selector"] == before["spec"]["selector"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1


def test_stalled_rollout_restores_previous_template_exactly() -> None:
    """Timeout -> the previous pod template is put back byte for byte, and the result says so."""
    cluster = FakeCluster()
    backend = _backend(cluster, timeout_s=0.3)
    backend.deploy(TARGET, V1)
    template_before = copy.deepcopy(cluster.objects[("staging", "bankchurn")]["spec"]["template"])
    cluster.stalled_images.add(V2.image or "")
    result = backend.deploy(TARGET, V2)
    assert not result.ok and result.details["restored"] is True
    assert "timed out" in result.reason and "restored" in result.reason
    assert "updated 1" in result.reason  # the numbers that explain the failure
    assert cluster.objects[("staging", "bankchurn")]["spec"]["template"] == template_before


def test_progress_deadline_fails_without_waiting_for_the_timeout() -> None:
    """A Progressing=False/ProgressDeadlineExceeded condition ends the wait at once."""
    dep: dict[str, Any] = {"metadata": {"generation": 2}, "spec": {"replicas": 2}}
    dep["status"] = {
        "observedGeneration": 2,
        "conditions": [
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
        ],
    }
    state, why = m.rollout_state(dep)
    assert state == "failed" and "deadline" in why


def test_first_deploy_that_never_settles_fails_with_nothing_serving() -> None:
    """No previous spec to restore: the result is failed and serves nothing."""
    cluster = FakeCluster()
    cluster.stalled_images.add(V1.ref)
    result = _backend(cluster, timeout_s=0.2).deploy(TARGET, V1)
    assert not result.ok and result.release is None and "restored" not in result.details


def test_unreachable_cluster_is_adapter_unavailable() -> None:
    """A down API server surfaces as AdapterUnavailable (503), not a vendor exception."""
    with pytest.raises(AdapterUnavailable):
        _backend(FakeCluster(down=True)).deploy(TARGET, V1)


def test_kubernetes_client_errors_are_translated() -> None:
    """ApiException 403 -> AdapterError, 503 -> AdapterUnavailable, connection refused -> 503."""
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.client.exceptions import ApiException

    from controlplane.adapters.workload.k8s_api import KubeClusterApi, translated

    with pytest.raises(AdapterError, match="403") as denied, translated("patching"):
        raise ApiException(status=403, reason="Forbidden")
    assert not isinstance(denied.value, AdapterUnavailable)
    with pytest.raises(AdapterUnavailable), translated("reading"):
        raise ApiException(status=503, reason="Service Unavailable")
    conf = kubernetes.client.Configuration()
    conf.host = "http://127.0.0.1:9"  # discard port: nothing listens
    conf.retries = 0
    api = KubeClusterApi(kubernetes.client.ApiClient(conf), request_timeout_s=2)
    with pytest.raises(AdapterUnavailable, match="unreachable"):
        api.read_deployment("dev", "bankchurn")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)
json_objects = st.dictionaries(
    st.text(max_size=3), json_values.filter(lambda v: v is not None), max_size=4
)


def _strip_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    return value


@given(json_objects, json_objects)
def test_merge_patch_turns_current_into_desired(
    current: dict[str, Any], desired: dict[str, Any]
) -> None:
    """apply(current, merge_patch(current, desired)) == desired, for null-free JSON."""
    desired = _strip_nulls(desired)
    assert m.apply_merge_patch(current, m.merge_patch(current, desired)) == desired


@pytest.mark.asyncio
async def test_rollout_over_http_against_kmock_fixture(kmock: Any) -> None:
    """The real kubernetes client talks HTTP to kmock; the wire carries merge patches."""
    kubernetes = pytest.importorskip("kubernetes")
    from controlplane.adapters.workload.k8s_api import KubeClusterApi
    from tests.adapters.kmock_cluster import KmockCluster

    cluster = KmockCluster(kmock)
    controller = asyncio.create_task(cluster.controller())
    conf = kubernetes.client.Configuration()
    conf.host = str(kmock.url).rstrip("/")
    api = KubeClusterApi(kubernetes.client.ApiClient(conf), manage_namespaces=False)
    backend = KubernetesBackend(api, timeout_s=2.0, poll_s=0.02)
    try:
        first = await asyncio.to_thread(backend.deploy, TARGET, V1)
        second = await asyncio.to_thread(backend.deploy, TARGET, V2)
    finally:
        controller.cancel()
    assert first.ok and second.ok and second.previous == V1.ref
    patches = list(kmock["patch"])
    assert patches and all(
        r.headers.get("Content-Type", "").startswith("application/merge-patch+json")
        for r in patches
    )
    rollout = [r for r in patches if "template" in (r.data.get("spec") or {})]
    assert len(rollout) == 1  # the other patches re-apply the overlay's Service, HPA, PDB, ...
    annotations = rollout[0].data["spec"]["template"]["metadata"]["annotations"]
    assert annotations[m.RELEASE_ANNOTATION] == V2.ref


def test_service_is_the_stable_address_and_a_valid_object() -> None:
    """Every rollout keeps one ClusterIP Service over the pods; status and results report it."""
    kv = pytest.importorskip("kubernetes_validate")
    cluster = FakeCluster()
    backend = _backend(cluster)
    first, second = backend.deploy(TARGET, V1), backend.deploy(TARGET, V2)
    url = "http://bankchurn.staging.svc.cluster.local"
    assert first.url == second.url == backend.status(TARGET).url == url
    service = cluster.services[("staging", "bankchurn")]
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "bankchurn"}
    kv.validate(service, kv.latest_version(), strict=True)


def test_pod_logs_by_release_and_cursor() -> None:
    """logs(): the current release's pod, newer lines only after a cursor, a release by its ref
    while its pods exist (a restored rollout's pods are gone); a bad cursor is refused."""
    cluster = FakeCluster()
    broken = Release("registry.local/bankchurn@sha256:" + "f" * 64)
    cluster.stalled_images.add(broken.ref)
    backend = _backend(cluster, timeout_s=0.2)
    backend.deploy(TARGET, V1)
    chunk = backend.logs(TARGET)
    assert chunk.release == V1.ref and chunk.lines == [f"starting {V1.ref}"]
    pod = chunk.source.removeprefix("pod/")
    cluster.write_log("staging", pod, "served 1 request")
    assert backend.logs(TARGET, after=chunk.cursor).lines == ["served 1 request"]
    assert not backend.deploy(TARGET, broken).ok  # stalls, then V1's template is put back
    with pytest.raises(NotFound):
        backend.logs(TARGET, release=broken.ref)
    assert backend.logs(TARGET, release=V1.ref[:40], tail=1).lines == ["served 1 request"]
    with pytest.raises(InvalidSpec):
        backend.logs(TARGET, after="not a cursor")
