"""Terraform's one-cluster-per-environment layout: each environment's rollouts reach only its
own cluster, and an environment with no cluster is refused."""

from __future__ import annotations

import pytest

from controlplane.adapters.base import Release, Target
from controlplane.adapters.workload.k8s import KubernetesBackend
from controlplane.adapters.workload.k8s_environments import ClusterPerEnvironment
from controlplane.adapters.workload.k8s_fake import FakeCluster
from controlplane.errors import AdapterError

V1 = Release("bankchurn@sha256:" + "1" * 64, image="r/bankchurn@sha256:" + "1" * 64)


def test_each_environment_deploys_to_its_own_cluster_only() -> None:
    """dev lands in the dev cluster, production in the production cluster, nothing crosses."""
    clusters = {env: FakeCluster() for env in ("dev", "production")}
    backend = ClusterPerEnvironment(
        {env: KubernetesBackend(c, timeout_s=1.0, poll_s=0.01) for env, c in clusters.items()}
    )
    assert backend.deploy(Target("bankchurn", "dev"), V1).ok
    assert backend.deploy(Target("nlpinsight", "production"), V1).ok
    assert set(clusters["dev"].objects) == {("dev", "bankchurn")}
    assert set(clusters["production"].objects) == {("production", "nlpinsight")}
    assert backend.status(Target("bankchurn", "dev")).release == V1.ref
    assert backend.status(Target("bankchurn", "production")).state == "absent"


def test_an_environment_without_a_cluster_is_refused() -> None:
    """staging has no cluster configured: AdapterError naming it, and no cluster is touched."""
    dev = FakeCluster()
    backend = ClusterPerEnvironment({"dev": KubernetesBackend(dev, timeout_s=1.0, poll_s=0.01)})
    with pytest.raises(AdapterError, match="'staging'"):
        backend.deploy(Target("bankchurn", "staging"), V1)
    assert dev.requests == []
    with pytest.raises(AdapterError):
        ClusterPerEnvironment({})
