"""Agent fixtures: a served plane, agent and human identities, and agents run as programs.

Each agent runs as `python -m agents.<name>` in a subprocess with its own CONTROLPLANE_TOKEN,
exactly as CI or a scheduler would start it.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from factories import CI_KEY
from fastapi import FastAPI

from controlplane.adapters.workload.local import LocalBackend
from controlplane.client import ControlPlaneClient
from controlplane.clock import ManualClock
from controlplane.config import Settings

REPO = Path(__file__).resolve().parents[2]
AGENTS = ("release-agent", "drift-agent", "incident-agent", "autofix-agent")
People = dict[str, str]


@pytest.fixture
def people(plane_url: str, app: FastAPI) -> People:
    """One agent identity per agent (operator role), two human approvers, a human operator."""
    out: People = {}
    with ControlPlaneClient(plane_url, app.state.ctx.admin_token) as admin:
        for name in AGENTS:
            out[name] = admin.create_token(name, "agent", ["operator"])["token"]
        for name, roles in (("alice", ["approver"]), ("bob", ["approver"]), ("olga", ["operator"])):
            out[name] = admin.create_token(name, "human", roles)["token"]
    return out


def as_(plane_url: str, token: str) -> ControlPlaneClient:
    """A client acting as the holder of `token`."""
    return ControlPlaneClient(plane_url, token)


@pytest.fixture
def ci_key_file(tmp_path: Path) -> Path:
    """The test CI key (the one the test plane trusts) as CI would mount it: base64 raw bytes."""
    raw = CI_KEY.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    path = tmp_path / "ci.key"
    path.write_text(base64.b64encode(raw).decode())
    path.chmod(0o600)
    return path


def run_agent(
    name: str, url: str, token: str | None, *args: str, timeout: float = 240, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run `python -m agents.<name> ARGS` as its own identity; its exit code and output."""
    full = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "CONTROLPLANE_URL": url, **env}
    if token is not None:
        full["CONTROLPLANE_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", f"agents.{name}", *args],
        cwd=REPO, env=full, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@contextmanager
def ticking(clock: ManualClock, step_s: float = 3.0) -> Iterator[None]:
    """Move the plane's clock while an agent waits, so the plane's own waits come due."""
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.1):
            clock.advance(timedelta(seconds=step_s))

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


@pytest.fixture
def local_settings(settings: Settings) -> Settings:
    """The repo's playbooks, short health windows: for planes that run real service processes."""
    return settings.model_copy(
        update={"playbook_dir": REPO / "playbooks", "run_poll_s": 0.1, "health_window_s": 0.5}
    )


@pytest.fixture
def local_backend(local_settings: Settings) -> Iterator[LocalBackend]:
    """Real service processes on loopback ports chosen by the OS (stopped after the test)."""
    backend = LocalBackend(local_settings.state_dir, base_port=0, ready_timeout_s=60)
    yield backend
    backend.stop_all()


def refused_votes(client: ControlPlaneClient, actor: str) -> list[dict[str, object]]:
    """The audit records of `actor`'s refused attempts to vote on an approval."""
    page = client.audit(actor=actor, result="refused", order="desc", limit=50)
    return [r for r in page["data"] if "approve" in str(r["operation"])]
