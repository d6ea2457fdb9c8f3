"""The local backend's stable address (a front per target), why a target is degraded, its logs."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from controlplane.adapters.base import Release, Target
from controlplane.adapters.workload import local_logs, local_process
from controlplane.adapters.workload.local import LocalBackend
from controlplane.errors import NotFound
from tests.adapters.conftest import TARGET

CUSTOMER = {
    "CreditScore": 600, "Geography": "France", "Gender": "Male", "Age": 40, "Tenure": 3,
    "Balance": 60000.0, "NumOfProducts": 2, "HasCrCard": 1, "IsActiveMember": 1,
    "EstimatedSalary": 50000.0,
}  # fmt: skip


def _version(url: str) -> str:
    return str(httpx.get(f"{url}/ready", timeout=5).json()["model_version"])


def _until(done: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def _kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    _until(lambda: not local_process.pid_alive(pid), 10)


@pytest.mark.slow
def test_address_survives_rollouts_plane_restarts_and_a_killed_front(
    make_local: Callable[..., LocalBackend], releases: dict[str, Release]
) -> None:
    """One address for bankchurn/dev through two rollouts, a new plane adopting the processes,
    its front being killed and started again, and a full stop and start of the plane."""
    first = make_local()
    address = first.deploy(TARGET, releases["v1"]).url
    second_rollout = first.deploy(TARGET, releases["v2"])
    assert address is not None and second_rollout.url == address
    assert _version(address) == _version(second_rollout.details["backend_url"])

    plane = make_local()
    assert plane.start() == {"bankchurn/dev": "adopted"}
    assert plane.status(TARGET).url == address

    _kill(plane.status(TARGET).details["front_pid"])
    down = plane.status(TARGET)
    assert down.state == "degraded" and "front" in down.details["reason"]
    assert plane.start() == {"bankchurn/dev": "adopted"}
    up = plane.status(TARGET)
    assert (up.state, up.url) == ("running", address)
    assert _version(address) == _version(second_rollout.details["backend_url"])

    plane.stop_all()
    assert not local_process.probe(address, "/-/front")
    again = make_local()
    assert again.start() == {"bankchurn/dev": "restarted"}
    assert again.status(TARGET).url == address
    assert httpx.get(f"{address}/ready", timeout=5).status_code == 200


@pytest.mark.slow
def test_no_call_fails_while_a_rollout_switches_releases(
    make_local: Callable[..., LocalBackend], releases: dict[str, Release]
) -> None:
    """Four keep-alive clients call POST /predict at the address through v1 -> v2: zero errors,
    and both releases answered plenty of calls."""
    backend = make_local()
    address = str(backend.deploy(TARGET, releases["v1"]).url)
    old = _version(address)
    served: Counter[str] = Counter()
    errors: list[str] = []
    lock, stop = threading.Lock(), threading.Event()

    def call_forever() -> None:
        with httpx.Client(base_url=address, timeout=10) as http:
            while not stop.is_set():
                try:
                    response = http.post("/predict", json=CUSTOMER)
                    outcome = response.json()["model_version"] if response.is_success else None
                except (httpx.HTTPError, ValueError) as exc:
                    response, outcome = None, repr(exc)
                with lock:
                    if response is not None and response.is_success:
                        served[str(outcome)] += 1
                    else:
                        errors.append(str(outcome or response))

    clients = [threading.Thread(target=call_forever) for _ in range(4)]
    for thread in clients:
        thread.start()
    try:
        _until(lambda: served[old] >= 50)
        result = backend.deploy(TARGET, releases["v2"])
        new = _version(address)
        _until(lambda: served[new] >= 50)
    finally:
        stop.set()
        for thread in clients:
            thread.join(15)
    assert result.ok, result.reason
    assert errors == []
    assert new != old and served[old] >= 50 and served[new] >= 50
    assert set(served) == {old, new}


@pytest.mark.slow
def test_killed_process_is_degraded_with_why_and_its_log_while_the_address_says_503(
    make_local: Callable[..., LocalBackend], releases: dict[str, Release]
) -> None:
    """A SIGKILLed service: status says degraded, which process died how, and its last lines;
    a call to the address gets a clear 503 at once rather than hanging."""
    backend = make_local()
    deployed = backend.deploy(TARGET, releases["v1"])
    pid = deployed.details["pid"]
    _kill(pid)
    status = backend.status(TARGET)
    assert (status.state, status.url) == ("degraded", deployed.url)
    assert status.details["reason"] == f"process {pid} exited (killed by SIGKILL)"
    assert "Uvicorn running" in status.details["log_tail"]
    started = time.monotonic()
    response = httpx.post(f"{deployed.url}/predict", json=CUSTOMER, timeout=10)
    assert response.status_code == 503 and time.monotonic() - started < 3
    assert "does not answer" in response.json()["error"]["message"]


@pytest.mark.slow
def test_logs_follow_a_cursor_and_find_a_failed_release(
    make_local: Callable[..., LocalBackend], releases: dict[str, Release]
) -> None:
    """logs(): the serving process by default, only newer lines after a cursor, the process of a
    refused release by its ref; NotFound for a release or target that never ran."""
    backend = make_local()
    deployed = backend.deploy(TARGET, releases["v1"])
    chunk = backend.logs(TARGET)
    assert (chunk.release, chunk.source) == (releases["v1"].ref, deployed.details["log"])
    assert any("Uvicorn running" in line for line in chunk.lines)
    httpx.get(f"{deployed.url}/model_info", timeout=5)
    newer = backend.logs(TARGET, after=chunk.cursor)
    assert any("GET /model_info" in line for line in newer.lines)
    assert not any("Uvicorn running" in line for line in newer.lines)
    assert backend.logs(TARGET, after=newer.cursor).lines == []

    backend.ready_timeout_s = 10.0
    failed = backend.deploy(TARGET, releases["broken"])
    theirs = backend.logs(TARGET, release=releases["broken"].ref)
    assert not failed.ok and theirs.source == failed.details["log"]
    assert theirs.release == releases["broken"].ref
    assert any("refusing artifact" in line for line in theirs.lines)
    assert backend.logs(TARGET).release == releases["v1"].ref
    with pytest.raises(NotFound):
        backend.logs(TARGET, release="bankchurn@sha256:" + "0" * 64)
    with pytest.raises(NotFound):
        backend.logs(Target("bankchurn", "staging"))


def test_log_reads_keep_a_line_being_written_for_the_next_read(tmp_path: Path) -> None:
    """tail returns whole lines even across read blocks; a half-written line waits for its end."""
    log = tmp_path / "svc.log"
    log.write_bytes(b"".join(b"line %d %s\n" % (i, b"x" * 200) for i in range(1000)) + b"half")
    lines, end = local_logs.read_lines(log, tail=3)
    assert [line.split()[1] for line in lines] == ["997", "998", "999"]
    assert end == log.stat().st_size - len(b"half")
    with log.open("ab") as fh:
        fh.write(b" done\nnext\n")
    later, _ = local_logs.read_lines(log, tail=100, after=end)
    assert later == ["half done", "next"]
    assert local_logs.read_lines(log, tail=0)[0] == []
