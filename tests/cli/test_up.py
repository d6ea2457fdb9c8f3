"""`opsctl up`: the first-ten-minutes experience (journey 1) in a real subprocess."""

from __future__ import annotations

import contextlib
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

from controlplane.adapters.workload.local_process import pid_alive
from controlplane.cli import up
from controlplane.client import ControlPlaneClient
from controlplane.config import Settings
from controlplane.deploy.facts import KNOWN_SERVICES

from .conftest import REPO, Opsctl

BANNER_END = "Ctrl-C stops the plane."
SERVICES_UP_S = 300  # a first start trains and deploys three models (about 30 s on a laptop)
STOPPED_S = 90  # the plane's own bound: services 10 s grace + 5 s kill, the audit writer 30 s


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Plane:
    """An `opsctl up` child process whose stdout is read line by line in the background."""

    def __init__(
        self,
        cwd: Path,
        env: dict[str, str],
        *,
        services: bool = False,
        extra: tuple[str, ...] = ("--no-monitoring",),
    ) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.err: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "controlplane.cli.main", "up", *extra]
            + ([] if services else ["--no-services"]),
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        stdout, stderr = self.proc.stdout, self.proc.stderr
        threading.Thread(target=lambda: [self.lines.put(x) for x in stdout], daemon=True).start()
        self._err_reader = threading.Thread(target=lambda: self.err.extend(stderr), daemon=True)
        self._err_reader.start()  # drained as it comes: service logs would fill the pipe

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
        return self.stderr()

    def stderr(self) -> str:
        """Everything logged so far (all of it once the process has exited)."""
        if self.proc.poll() is not None:
            self._err_reader.join(timeout=5)
        return "".join(self.err)


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
    assert info["dashboard"] == f"http://{settings.host}:{settings.port}/ui/"
    text = up.render_banner(info | {"dashboard": None})
    assert "dashboard" not in text
    assert "dashboard    http://x/" in up.render_banner(info | {"dashboard": "http://x/"})


def _descendants(root: int) -> dict[int, str]:
    """Every process below `root` by parent pid (services run in their own session, still below)."""
    children: dict[int, list[int]] = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            ppid = int(stat_file.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(stat_file.parent.name))
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            with contextlib.suppress(OSError):
                found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            todo.append(pid)
    return found


def _kill(pids: set[int]) -> None:
    """SIGKILL what a failed test left behind, with the process group of each session leader."""
    for pid in pids:
        with contextlib.suppress(OSError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            os.kill(pid, signal.SIGKILL)


def _wait_for_dev_services(plane: Plane, url: str, token_file: Path) -> None:
    """Until the API says every dev service runs and the plane has logged each one's outcome."""
    deadline = time.monotonic() + SERVICES_UP_S
    with ControlPlaneClient(url, token_file.read_text().strip()) as client:
        while True:
            statuses = client.services()
            dev = {s["service"]: s["status"] for s in statuses if s["environment"] == "dev"}
            logged = all(f"service {name}/dev: " in plane.stderr() for name in KNOWN_SERVICES)
            if logged and all(dev.get(name) == "running" for name in KNOWN_SERVICES):
                return
            assert plane.proc.poll() is None, plane.stderr()
            assert time.monotonic() < deadline, f"dev services after {SERVICES_UP_S}s: {dev}"
            time.sleep(0.5)


@pytest.fixture(scope="module")
def services_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One state folder for the services tests: the first start trains, later ones restart."""
    return tmp_path_factory.mktemp("up-services") / "state"


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_stop_signal_stops_the_plane_the_audit_writer_and_every_service(
    tmp_path: Path, up_env: dict[str, str], services_state: Path, sig: signal.Signals
) -> None:
    up_env["CONTROLPLANE_STATE_DIR"] = str(services_state)
    url = f"http://127.0.0.1:{up_env['CONTROLPLANE_PORT']}"
    plane = Plane(tmp_path, up_env, services=True)
    before: dict[int, str] = {}
    try:
        plane.banner()
        _wait_for_dev_services(plane, url, services_state / "admin.token")
        before = _descendants(plane.proc.pid)
        commands = list(before.values())
        for name in KNOWN_SERVICES:
            assert sum(f"-m services.{name} " in cmd for cmd in commands) == 1, before
        writers = [
            pid for pid, cmd in before.items() if "-m controlplane.audit.commit.writer" in cmd
        ]
        assert len(writers) == 1, before

        plane.proc.send_signal(sig)
        code = plane.proc.wait(timeout=STOPPED_S)

        left = {pid: cmd for pid, cmd in before.items() if pid_alive(pid)}
        assert left == {}, f"still running after {sig.name} to the plane: {left}"
        assert code == 0, plane.stderr()
        stopped = (
            f"control plane stopped ({sig.name}): {2 * len(KNOWN_SERVICES)} processes "
            "(services and their fronts)"
        )
        assert stopped in plane.stderr()
        assert f"audit writer (pid {writers[0]}) stopped" in plane.stderr()
    finally:
        strays = set(before) | set(_descendants(plane.proc.pid))
        if plane.proc.poll() is None:
            plane.proc.kill()
            plane.proc.wait()
        _kill({pid for pid in strays if pid_alive(pid)})
