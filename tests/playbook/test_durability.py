"""Runs survive their plane: SIGKILL mid-step resumes after restart without repeating finished
steps, and two planes on one database never run the same step twice (PostgreSQL in CI)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controlplane.config import Settings
from tests.playbook.conftest import count, effects_dir, follow

REPO = Path(__file__).resolve().parents[2]
PLANE = """
import sys, uvicorn
from controlplane.adapters.workload.fake import FakeWorkloadBackend
from controlplane.app import create_app
from controlplane.config import Settings
settings = Settings(state_dir=sys.argv[1], database_url=sys.argv[2], policy_dir=sys.argv[3],
                    playbook_dir=sys.argv[4], playbook_actions="tests.playbook.plugin:actions",
                    run_lease_s=2, run_poll_s=0.2, audit_writer="thread")
app = create_app(settings, workloads=FakeWorkloadBackend())
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[5]), log_level="warning")
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Plane:
    """One plane process on the test's database and state folder."""

    def __init__(self, settings: Settings) -> None:
        self.port = _port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [str(settings.state_dir), settings.resolved_database_url, str(settings.policy_dir),
                str(settings.playbook_dir), str(self.port)]  # fmt: skip
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "CONTROLPLANE_EFFECTS": str(effects_dir(settings)),
        }
        self.proc = subprocess.Popen([sys.executable, "-c", PLANE, *args], cwd=REPO, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError("plane did not start")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)
        self.proc.wait(timeout=30)


@pytest.fixture
def planes(settings: Settings) -> Iterator[list[Plane]]:
    started: list[Plane] = []
    yield started
    for plane in started:
        if plane.proc.poll() is None:
            plane.stop()


def admin(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {(settings.state_dir / 'admin.token').read_text().strip()}"}


def start(http: httpx.Client, headers: dict[str, str], text: str) -> Any:
    r = http.post("/v1/commands", json={"text": text}, headers=headers)
    assert r.status_code == 202, r.text
    return r.json()


def test_sigkill_mid_step_resumes_after_restart_and_finished_steps_do_not_repeat(
    settings: Settings, planes: list[Plane]
) -> None:
    planes.append(Plane(settings))
    headers = admin(settings)
    with httpx.Client(base_url=planes[0].url, timeout=10) as http:
        run = start(http, headers, "/slow seconds=4")
        follow(http, headers, run["id"], until=("running",))
        deadline = time.monotonic() + 20
        while not (effects_dir(settings) / "sleepy.tries").exists():  # inside the slow step
            assert time.monotonic() < deadline
            time.sleep(0.05)
    planes[0].stop(signal.SIGKILL)
    assert count(settings, "before") == 1 and count(settings, "sleepy") == 0
    planes.append(Plane(settings))  # the next start takes over once the dead lease expires
    with httpx.Client(base_url=planes[1].url, timeout=10) as http:
        done = follow(http, headers, run["id"], timeout_s=60, until=("succeeded", "failed"))
    assert done["status"] == "succeeded", done["reason"]
    assert count(settings, "before") == 1  # finished before the kill: not run again
    assert count(settings, "sleepy") == 1 and count(settings, "after") == 1
    sleepy = next(s for s in done["steps"] if s["step_id"] == "sleepy")
    assert any("resuming" in note for note in sleepy["notes"]), sleepy["notes"]
    tries = (effects_dir(settings) / "sleepy.tries").read_text().split()
    assert len(tries) == 2 and len(set(tries)) == 1  # at least once, under one key


def test_two_planes_on_one_database_never_run_a_step_twice(
    settings: Settings, planes: list[Plane]
) -> None:
    if settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("replicas share PostgreSQL (make test-pg runs this)")
    planes.extend([Plane(settings), Plane(settings)])
    headers = admin(settings)
    ids = []
    for i in range(10):
        with httpx.Client(base_url=planes[i % 2].url, timeout=10) as http:
            ids.append(start(http, headers, "/slow seconds=0")["id"])
    with httpx.Client(base_url=planes[0].url, timeout=10) as http:
        for run_id in ids:
            done = follow(http, headers, run_id, timeout_s=60, until=("succeeded", "failed"))
            assert done["status"] == "succeeded", done["reason"]
    for name in ("before", "sleepy", "after"):
        lines = (effects_dir(settings) / f"{name}.log").read_text().split()
        assert len(lines) == 10 and len(set(lines)) == 10, name  # each key's effect once
