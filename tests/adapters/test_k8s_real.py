"""Opt-in: the Kubernetes backend against a real cluster from KUBECONFIG (skipped otherwise)."""

from __future__ import annotations

import os
import uuid

import pytest

from controlplane.adapters.base import Release, Target

pytestmark = pytest.mark.skipif(
    not os.environ.get("KUBECONFIG"), reason="set KUBECONFIG to run against a real cluster"
)
IMAGE = os.environ.get(
    "CONTROLPLANE_TEST_K8S_IMAGE",
    "registry.k8s.io/pause@sha256:"
    + "7031c1b283388d2c2e09b57badb803c05ebed362dc88d84b480cc47f72a21097",
)
STALLED = "registry.k8s.io/does-not-exist@sha256:" + "0" * 64


def test_rollout_and_restore_on_a_real_cluster() -> None:
    """Deploy the dev overlay with a pinned image to a throwaway namespace, fail one that cannot
    pull, verify restore."""
    pytest.importorskip("kubernetes")
    if "@sha256:" not in IMAGE:
        pytest.skip("set CONTROLPLANE_TEST_K8S_IMAGE to a digest-pinned bankchurn service image")
    from controlplane.adapters.workload.k8s import KubernetesBackend
    from controlplane.adapters.workload.k8s_api import KubeClusterApi

    api = KubeClusterApi.from_kubeconfig(os.environ["KUBECONFIG"])
    prefix = f"cp-test-{uuid.uuid4().hex[:6]}-"  # the dev overlay, in a throwaway namespace
    backend = KubernetesBackend(api, timeout_s=180, poll_s=2, replicas=1, namespace_prefix=prefix)
    target = Target("bankchurn", "dev")
    good = Release(f"bankchurn@sha256:{IMAGE.rsplit(':', 1)[1]}", image=IMAGE)
    bad = Release(f"bankchurn@sha256:{'0' * 64}", image=STALLED)
    try:
        first = backend.deploy(target, good)
        assert first.ok, first.reason
        backend.timeout_s = 45
        failed = backend.deploy(target, bad)
        assert not failed.ok and failed.details.get("restored") is True, failed.reason
        assert backend.status(target).release == good.ref
    finally:
        api.core.delete_namespace(backend.namespace(target))
