"""`opsctl up`: the first-ten-minutes experience (journey 1) in a real subprocess."""

from __future__ import annotations

import os
import queue
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.cli import up
from controlplane.client import ControlPlaneClient
from controlplane.config import Settings

from .conftest import REPO, Opsctl

BANNER_END = "Ctrl-C stops the plane."


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Plane:
    """An `opsctl up` child process whose stdout is read line by line in the background."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "controlplane.cli.main", "up", "--no-services"],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        threading.Thread(target=lambda: [self.lines.put(x) for x in stdout], daemon=True).start()

    def banner(self, timeout: float = 30) -> str:
        """Everything printed up to the end of the banner."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while not seen or BANNER_END not in seen[-1]:
            remaining = deadline - time.monotonic()
            assert remaining > 0 and self.proc.poll() is None, "".join(seen) + self._stderr()
            try:
                seen.append(self.lines.get(timeout=min(remaining, 0.5)))
            except queue.Empty:
                continue
        return "".join(seen)

    def stop(self) -> int:
        """Ctrl-C, as a person would."""
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=20)

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            return ""
        assert self.proc.stderr is not None
        return self.proc.stderr.read()


@pytest.fixture
def up_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLPLANE_")}
    env |= {
        "CONTROLPLANE_PORT": str(_free_port()),
        "CONTROLPLANE_STATE_DIR": str(tmp_path / "state"),
        "CONTROLPLANE_POLICY_DIR": str(REPO / "policies"),
    }
    yield env


@pytest.mark.slow
def test_up_serves_the_plane_and_prints_the_banner(tmp_path: Path, up_env: dict[str, str]) -> None:
    plane = Plane(tmp_path, up_env)
    try:
        banner = plane.banner()
        url = f"http://127.0.0.1:{up_env['CONTROLPLANE_PORT']}"
        token_file = tmp_path / "state" / "admin.token"
        assert f"control plane ready on {url}" in banner
        assert f"API docs     {url}/docs" in banner
        assert str(token_file) in banner
        token = token_file.read_text().strip()
        assert f"admin token {token} (shown only this once)" in banner
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert "decide deploy --env production --service bankchurn" in banner
        client_env = {"CONTROLPLANE_URL": url, "CONTROLPLANE_STATE_DIR": str(tmp_path / "state")}
        with ControlPlaneClient.from_env(client_env) as client:
            assert client.whoami()["name"] == "admin"
    finally:
        assert plane.stop() == 0

    again = Plane(tmp_path, up_env)
    try:
        second = again.banner()
        assert str(token_file) in second
        assert token not in second  # the token is printed on the first start only
    finally:
        again.stop()


def test_up_refuses_a_busy_port(offline_opsctl: Opsctl) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = offline_opsctl("up", "--port", str(port))
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "already running" in result.stderr


def test_up_refuses_a_non_loopback_host_as_a_usage_error(offline_opsctl: Opsctl) -> None:
    result = offline_opsctl("up", "--host", "0.0.0.0")
    assert result.exit_code == 2
    assert "CONTROLPLANE_ALLOW_REMOTE" in result.stderr


def test_banner_mentions_a_dashboard_only_when_one_is_served(
    app: object, settings: Settings
) -> None:
    info = up.banner_info(app, settings)  # type: ignore[arg-type]
    assert info["dashboard"] is None  # no dashboard is served yet
    text = up.render_banner(info | {"dashboard": None})
    assert "dashboard" not in text
    assert "dashboard    http://x/" in up.render_banner(info | {"dashboard": "http://x/"})
