"""Terraform's one-cluster-per-environment layout: each environment's rollouts reach only its
own cluster, and an environment with no cluster is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from controlplane.adapters.base import Release, Target
from controlplane.adapters.workload.k8s import KubernetesBackend
from controlplane.adapters.workload.k8s_environments import ClusterPerEnvironment
from controlplane.adapters.workload.k8s_fake import FakeCluster
from controlplane.config import Settings
from controlplane.errors import AdapterError
from controlplane.workload.wiring import workload_parts

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


def kubeconfig(path: Path, contexts: list[str]) -> Path:
    """A kubeconfig naming one cluster per context (nothing listens there: nothing is called)."""
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": contexts[0],
        "clusters": [{"name": c, "cluster": {"server": f"https://127.0.0.1:{6443 + i}"}}
                     for i, c in enumerate(contexts)],
        "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": c, "context": {"cluster": c, "user": "u"}} for c in contexts],
    }  # fmt: skip
    path.write_text(yaml.safe_dump(doc))
    return path


def test_the_plane_reaches_one_cluster_per_environment_from_its_settings(tmp_path: Path) -> None:
    """CONTROLPLANE_KUBE_CONTEXTS=dev=...,production=...: each environment's own context."""
    config = kubeconfig(tmp_path / "kubeconfig", ["gke-dev", "gke-prod"])
    settings = Settings(
        state_dir=tmp_path / "state", workload_backend="kubernetes", kubeconfig=str(config),
        kube_contexts="dev=gke-dev, production=gke-prod",
    )  # fmt: skip
    parts = workload_parts(settings, None)
    assert isinstance(parts.backend, ClusterPerEnvironment)
    hosts = {env: b.api.api_client.configuration.host for env, b in parts.backend.backends.items()}
    assert hosts == {"dev": "https://127.0.0.1:6443", "production": "https://127.0.0.1:6444"}
    with pytest.raises(AdapterError, match="'staging'"):
        parts.backend.status(Target("bankchurn", "staging"))


@pytest.mark.parametrize(
    ("value", "why"),
    [("dev", "not environment=context"), ("dev=a,dev=b", "named twice"), ("=ctx", "not environ")],
)
def test_malformed_environment_contexts_are_refused_by_name(value: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        Settings(kube_contexts=value)
