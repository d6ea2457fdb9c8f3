"""Local backend with real bankchurn processes: rollouts, refusals, restore, adoption."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from controlplane.adapters.base import Release, Target
from controlplane.adapters.workload import local_process
from controlplane.adapters.workload.local import LocalBackend
from controlplane.errors import AdapterError, NotFound
from tests.adapters.conftest import TARGET

pytestmark = pytest.mark.slow


def _model_version(url: str) -> str:
    body = httpx.get(f"{url}/ready", timeout=5).json()
    return str(body["model_version"])


def test_deploy_serves_the_release_on_loopback(
    make_local: Callable[..., LocalBackend], releases: dict[str, Release]
) -> None:
    """A first deploy starts the process and reports it ready on 127.0.0.1."""
    backend = make_local()
    result = backend.deploy(TARGET, releases["v1"])
    assert result.ok, result.reason
    assert result.url is not None and result.url.startswith("http://127.0.0.1:")
    assert httpx.get(f"{result.url}/ready", timeout=5).status_code == 200
    status = backend.status(TARGET)
    assert (status.state, status.release, status.ready_replicas) == ("running", result.release, 1)
    log = Path(result.details["log"])
    assert log.is_file() and log.parent == backend.directory / "logs"


def test_rollout_moves_the_instance_behind_the_same_address(
    make_local: Callable[..., LocalBackend], releases: dict[str, Release]
) -> None:
    """v1 -> v2 runs v2 on another port behind the target's fixed address; v1 is ended."""
    backend = make_local()
    first = backend.deploy(TARGET, releases["v1"])
    second = backend.deploy(TARGET, releases["v2"])
    assert second.ok and second.previous == releases["v1"].ref
    assert first.url == second.url == backend.status(TARGET).url
    assert first.details["backend_url"] != second.details["backend_url"]
    assert not local_process.pid_alive(first.details["pid"])
    assert _model_version(str(second.url)) == _model_version(second.details["backend_url"])
    state = json.loads((backend.directory / "state.json").read_text())
    entry = state["targets"]["bankchurn/dev"]
    assert f"http://127.0.0.1:{entry['front_port']}" == second.url
    assert entry["active"]["port"] == second.details["port"] != entry["front_port"]
    assert entry["history"] == [releases["v1"].ref, releases["v2"].ref]
    assert [r["release"] for r in entry["logs"]] == entry["history"]


def test_release_that_never_gets_ready_is_refused_and_old_keeps_serving(
    make_local: Callable[..., LocalBackend], releases: dict[str, Release]
) -> None:
    """A tampered bundle never turns /ready 200: refused with the reason, v1 still answers."""
    backend = make_local()
    good = backend.deploy(TARGET, releases["v1"])
    backend.ready_timeout_s = 30.0  # it exits once it logs why (imports are slow under load)
    bad = backend.deploy(TARGET, releases["broken"])
    assert not bad.ok
    assert bad.release == releases["v1"].ref and bad.previous == releases["v1"].ref
    assert "did not answer 200" in bad.reason and "keeps serving" in bad.reason
    assert "refusing artifact" in bad.details["log_tail"] and "sha256 mismatch" in bad.reason
    assert httpx.get(f"{good.url}/ready", timeout=5).status_code == 200
    assert backend.status(TARGET).release == releases["v1"].ref
    state = json.loads((backend.directory / "state.json").read_text())
    assert state["targets"]["bankchurn/dev"]["pending"] is None


def test_first_release_without_its_bundle_is_refused(
    make_local: Callable[..., LocalBackend], releases: dict[str, Release], tmp_path: Path
) -> None:
    """A bundle folder that does not exist never gets ready; nothing was serving, nothing is."""
    backend = make_local(ready_timeout_s=3.0)
    missing = Release(releases["v1"].ref, artifact=str(tmp_path / "nowhere"))
    result = backend.deploy(TARGET, missing)
    assert not result.ok and result.release is None
    assert "nothing is serving" in result.reason
    assert Path(result.details["log"]).is_file()
    assert backend.status(TARGET).state == "absent"


def test_process_that_exits_fails_fast(
    make_local: Callable[..., LocalBackend], releases: dict[str, Release]
) -> None:
    """A command that dies at once is reported as exited, well before the ready timeout."""
    backend = make_local(command=lambda target, release, port: ["sh", "-c", "echo no GPU; exit 3"])
    result = backend.deploy(TARGET, releases["v1"])
    assert not result.ok and result.duration_s < 10
    assert "exited (code 3) before it became ready; its log says: no GPU" in result.reason
    assert result.details["log_tail"] == "no GPU"


def test_restarted_plane_adopts_live_processes(
    make_local: Callable[..., LocalBackend], releases: dict[str, Release]
) -> None:
    """A new backend over the same state dir adopts the live process instead of starting one."""
    first = make_local()
    deployed = first.deploy(TARGET, releases["v1"])
    second = make_local()
    assert second.start() == {"bankchurn/dev": "adopted"}
    status = second.status(TARGET)
    assert status.state == "running" and status.details["pid"] == deployed.details["pid"]


def test_restarted_plane_restarts_dead_recorded_release(
    make_local: Callable[..., LocalBackend], releases: dict[str, Release]
) -> None:
    """When the recorded process died with the plane, start() runs the recorded release again."""
    first = make_local()
    deployed = first.deploy(TARGET, releases["v1"])
    local_process.stop(deployed.details["pid"], grace_s=5)
    assert first.status(TARGET).state == "degraded"
    second = make_local()
    assert second.start() == {"bankchurn/dev": "restarted"}
    status = second.status(TARGET)
    assert status.state == "running" and status.release == releases["v1"].ref
    assert status.details["pid"] != deployed.details["pid"]


def test_scale_to_zero_and_back_and_restart(
    make_local: Callable[..., LocalBackend], releases: dict[str, Release]
) -> None:
    """scale 0 stops, scale 1 restarts the recorded release, restart swaps the process."""
    backend = make_local()
    address = backend.deploy(TARGET, releases["v1"]).url
    assert backend.scale(TARGET, 0).state == "stopped"
    refused = httpx.get(f"{address}/ready", timeout=5)
    assert refused.status_code == 503 and "no instance" in refused.json()["error"]["message"]
    assert make_local().start() == {"bankchurn/dev": "stopped"}
    up = backend.scale(TARGET, 1)
    assert up.state == "running" and up.release == releases["v1"].ref
    restarted = backend.restart(TARGET)
    assert restarted.ok and restarted.details["pid"] != up.details["pid"]
    with pytest.raises(AdapterError, match="one process per target"):
        backend.scale(TARGET, 3)


def test_unknown_target_is_not_found(make_local: Callable[..., LocalBackend]) -> None:
    """Restarting or scaling what was never deployed is a NotFound, not a crash."""
    backend = make_local()
    other = Target("bankchurn", "staging")
    assert backend.status(other).state == "absent"
    with pytest.raises(NotFound):
        backend.restart(other)
    with pytest.raises(NotFound):
        backend.scale(other, 0)
