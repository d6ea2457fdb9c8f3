"""One contract, every backend: fake, local (real processes), Kubernetes (fake cluster, kmock)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from controlplane.adapters.base import Release, Target, WorkloadBackend
from controlplane.adapters.workload.fake import FakeWorkloadBackend
from controlplane.adapters.workload.k8s import KubernetesBackend
from controlplane.adapters.workload.k8s_fake import FakeCluster
from controlplane.adapters.workload.local import LocalBackend
from controlplane.errors import NotFound
from tests.adapters.conftest import TARGET


def _image(tag: str) -> Release:
    return Release(f"registry.local/bankchurn@sha256:{tag * 64}", model_version=f"v-{tag}")


@dataclass
class Case:
    """A backend, three releases (two good, one never ready), and a way to make it log a line."""

    backend: WorkloadBackend
    v1: Release
    v2: Release
    broken: Release
    make_broken: Callable[[], None]
    say: Callable[[], str]  # makes the serving process log a line; returns a piece of it


def _fake() -> Iterator[Case]:
    v1, v2, broken = _image("1"), _image("2"), _image("f")
    backend = FakeWorkloadBackend(never_ready={broken.ref})

    def say() -> str:
        backend.write_log(TARGET, "fake says hello")
        return "hello"

    yield Case(backend, v1, v2, broken, lambda: None, say)


def _newest_pod(pods: dict[tuple[str, str], Any] | list[Any]) -> str:
    items = list(pods.values()) if isinstance(pods, dict) else pods
    return str(max(items, key=lambda p: p["metadata"]["creationTimestamp"])["metadata"]["name"])


def _k8s_fake() -> Iterator[Case]:
    v1, v2, broken = _image("1"), _image("2"), _image("f")
    cluster = FakeCluster()
    cluster.stalled_images.add(broken.ref)
    backend = KubernetesBackend(cluster, timeout_s=1.0, poll_s=0.01)

    def say() -> str:
        cluster.write_log(TARGET.environment, _newest_pod(cluster.pods), "pod says hello")
        return "hello"

    yield Case(backend, v1, v2, broken, lambda: None, say)


def _k8s_kmock() -> Iterator[Case]:
    pytest.importorskip("kmock")
    kubernetes = pytest.importorskip("kubernetes")
    from controlplane.adapters.workload.k8s_api import KubeClusterApi
    from tests.adapters.kmock_cluster import kmock_in_thread

    v1, v2, broken = _image("1"), _image("2"), _image("f")
    with kmock_in_thread() as (cluster, url):
        cluster.stalled.add(broken.ref)
        conf = kubernetes.client.Configuration()
        conf.host = url
        # kmock 0.8 cannot parse cluster-scoped /api/v1/namespaces/<name> paths.
        api = KubeClusterApi(kubernetes.client.ApiClient(conf), manage_namespaces=False)

        def say() -> str:
            pods = api.list_pods(TARGET.environment, "app.kubernetes.io/name=bankchurn")
            cluster.write_log(_newest_pod(pods), "kmock pod says hello")
            return "hello"

        backend = KubernetesBackend(api, timeout_s=1.5, poll_s=0.03)
        yield Case(backend, v1, v2, broken, lambda: None, say)


@pytest.fixture(
    params=["fake", "k8s-fake", "k8s-kmock", pytest.param("local", marks=pytest.mark.slow)]
)
def case(request: pytest.FixtureRequest) -> Iterator[Case]:
    """Each backend under the same contract."""
    if request.param == "local":
        releases: dict[str, Release] = request.getfixturevalue("releases")
        make: Callable[..., LocalBackend] = request.getfixturevalue("make_local")
        backend = make(ready_timeout_s=60.0)

        def shorten() -> None:
            backend.ready_timeout_s = 4.0

        def say() -> str:
            httpx.get(f"{backend.status(TARGET).url}/model_info", timeout=5)
            return "GET /model_info"

        yield Case(backend, releases["v1"], releases["v2"], releases["broken"], shorten, say)
        return
    factory: dict[str, Callable[[], Iterator[Any]]] = {
        "fake": _fake, "k8s-fake": _k8s_fake, "k8s-kmock": _k8s_kmock,
    }  # fmt: skip
    yield from factory[request.param]()


def test_deploy_then_status_reports_the_release(case: Case) -> None:
    """A successful deploy is what status reports, running."""
    result = case.backend.deploy(TARGET, case.v1)
    assert result.ok, result.reason
    assert (result.release, result.previous) == (case.v1.ref, None)
    status = case.backend.status(TARGET)
    assert (status.release, status.state) == (case.v1.ref, "running")


def test_release_that_never_gets_ready_leaves_the_old_one_serving(case: Case) -> None:
    """A failed rollout is refused with a reason, and the previous release still serves."""
    assert case.backend.deploy(TARGET, case.v1).ok
    case.make_broken()
    result = case.backend.deploy(TARGET, case.broken)
    assert not result.ok and result.reason
    assert result.release == case.v1.ref and result.previous == case.v1.ref
    status = case.backend.status(TARGET)
    assert (status.release, status.state) == (case.v1.ref, "running")


def test_restore_returns_to_the_previous_release(case: Case) -> None:
    """restore(v1) after v2 makes v1 the running release again."""
    assert case.backend.deploy(TARGET, case.v1).ok
    second = case.backend.deploy(TARGET, case.v2)
    assert second.ok and second.previous == case.v1.ref
    restored = case.backend.restore(TARGET, case.v1)
    assert restored.ok and restored.release == case.v1.ref and restored.previous == case.v2.ref
    assert case.backend.status(TARGET).release == case.v1.ref


def test_restart_keeps_the_release_and_scale_zero_stops(case: Case) -> None:
    """restart keeps serving the same release; scale 0 leaves it recorded but stopped."""
    assert case.backend.deploy(TARGET, case.v1).ok
    restarted = case.backend.restart(TARGET)
    assert restarted.ok and restarted.release == case.v1.ref
    stopped = case.backend.scale(TARGET, 0)
    assert (stopped.release, stopped.state, stopped.replicas) == (case.v1.ref, "stopped", 0)


def test_unknown_target_is_absent_and_cannot_restart(case: Case) -> None:
    """A target never deployed is absent; restarting it is NotFound."""
    other = Target("bankchurn", "staging")
    assert case.backend.status(other).state == "absent"
    with pytest.raises(NotFound):
        case.backend.restart(other)


def test_address_stays_across_rollouts(case: Case) -> None:
    """The target's address is reported by status and does not change when a release replaces
    another (a Kubernetes Service; the local backend's front)."""
    first = case.backend.deploy(TARGET, case.v1)
    before = case.backend.status(TARGET).url
    second = case.backend.deploy(TARGET, case.v2)
    assert before is not None and first.url == second.url == before
    assert case.backend.status(TARGET).url == before


def test_logs_of_the_serving_release_and_only_newer_lines_after_the_cursor(case: Case) -> None:
    """logs() reads the serving release's log; passing its cursor back returns just what came
    after; a target never deployed has no log."""
    assert case.backend.deploy(TARGET, case.v1).ok
    first = case.backend.logs(TARGET)
    assert first.release == case.v1.ref and first.lines and first.source
    said = case.say()
    newer = case.backend.logs(TARGET, after=first.cursor)
    assert any(said in line for line in newer.lines), newer.lines
    assert first.lines[0] not in newer.lines
    assert case.backend.logs(TARGET, tail=1).lines == newer.lines[-1:]
    with pytest.raises(NotFound):
        case.backend.logs(Target("bankchurn", "staging"))
