"""Prometheus and Alertmanager as child processes of `opsctl up --monitoring` (loopback only).

Both run with the files `controlplane.monitoring.files.for_state` renders into
`<state_dir>/monitoring/`, keep their data under the state folder (`prometheus/`,
`alertmanager/`) and log to `<state_dir>/monitoring/<name>.log`. Alertmanager's cluster port is
off (it would listen on every interface). The receiver's bearer token lives in
`<state_dir>/alertmanager.token` (mode 0600): Alertmanager reads it at each notification and the
plane is given the same value as `alertmanager_token`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from controlplane.monitoring import config, files

log = logging.getLogger("controlplane.monitoring")

LOOPBACK = "127.0.0.1"
INSTALL_HINT = "apt-get install prometheus prometheus-alertmanager"
PROMETHEUS_NAMES = ("prometheus",)
ALERTMANAGER_NAMES = ("prometheus-alertmanager", "alertmanager")  # Debian's name, then upstream's
RETENTION = "31d"  # the 30-day SLO windows, and a day to spare
READY_TIMEOUT_S = 30.0
STOP_GRACE_S = 10.0
FOLLOW_EVERY_S = 2.0  # how soon a newly deployed target is scraped


class MonitoringError(RuntimeError):
    """A binary is missing, or a process did not come up (the message says which and where)."""


def find(names: tuple[str, ...]) -> str | None:
    """The first of `names` on PATH."""
    return next((found for name in names if (found := shutil.which(name))), None)


def missing_binaries() -> list[str]:
    """Which of the two (by Debian package name) are not on PATH."""
    wanted = {"prometheus": PROMETHEUS_NAMES, "prometheus-alertmanager": ALERTMANAGER_NAMES}
    return [package for package, names in wanted.items() if find(names) is None]


def free_port() -> int:
    """A port the kernel says is free on loopback now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def ensure_token(path: Path, given: str | None = None) -> str:
    """The receiver's bearer token: `given`, else the file's, else a new one; file mode 0600."""
    token = given
    if token is None and path.exists():
        token = path.read_text().strip() or None
    token = token or secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    os.chmod(path, 0o600)  # an older file may have been wider
    return token


@dataclass
class Child:
    """One server process: its binary, web address and log file."""

    name: str
    binary: str
    port: int
    log_file: Path
    args: list[str]
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            self.proc = subprocess.Popen(
                [self.binary, *self.args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the plane, which stops it after itself
            )

    def wait_ready(self, deadline: float) -> None:
        """Until `/-/ready` answers 200; a clear error naming the binary and its log otherwise."""
        assert self.proc is not None
        while True:
            code = self.proc.poll()
            if code is not None:
                raise MonitoringError(
                    f"{self.name} ({self.binary}) exited with code {code} before it was ready; "
                    f"see its log {self.log_file}:\n{self.tail()}"
                )
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise MonitoringError(
                    f"{self.name} ({self.binary}) did not answer {self.url}/-/ready in time; "
                    f"see its log {self.log_file}:\n{self.tail()}"
                )
            time.sleep(0.1)

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self, grace_s: float = STOP_GRACE_S) -> bool:
        """Terminate, then kill after `grace_s`; True when it was running."""
        if self.proc is None or self.proc.poll() is not None:
            return False
        self.proc.terminate()
        try:
            self.proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=grace_s)
        return True


class MonitoringStack:
    """Prometheus and Alertmanager for one local plane; `start()` returns it ready."""

    def __init__(
        self,
        state_dir: Path,
        *,
        plane_url: str,
        prometheus_port: int | None = None,
        alertmanager_port: int | None = None,
        token: str | None = None,
    ) -> None:
        prometheus_bin, alertmanager_bin = find(PROMETHEUS_NAMES), find(ALERTMANAGER_NAMES)
        if prometheus_bin is None or alertmanager_bin is None:
            raise MonitoringError(
                f"{' and '.join(missing_binaries())} not found on PATH; install them with "
                f"`{INSTALL_HINT}` (or run with --no-monitoring)"
            )
        self.state_dir = state_dir.resolve()
        self.plane_url = plane_url
        self.out = self.state_dir / "monitoring"
        self.token_file = self.state_dir / config.TOKEN_FILE
        self.token = ensure_token(self.token_file, token)
        self._targets: list[config.ScrapeTarget] = []
        self._stopping = threading.Event()
        am_port = alertmanager_port or free_port()
        prom_port = prometheus_port or free_port()
        self.alertmanager = Child(
            "alertmanager",
            alertmanager_bin,
            am_port,
            self.out / "alertmanager.log",
            [
                f"--config.file={self.out / files.ALERTMANAGER_FILE}",
                f"--storage.path={self.state_dir / 'alertmanager'}",
                f"--web.listen-address={LOOPBACK}:{am_port}",
                "--cluster.listen-address=",
            ],
        )
        self.prometheus = Child(
            "prometheus",
            prometheus_bin,
            prom_port,
            self.out / "prometheus.log",
            [
                f"--config.file={self.out / files.PROMETHEUS_FILE}",
                f"--storage.tsdb.path={self.state_dir / 'prometheus'}",
                f"--storage.tsdb.retention.time={RETENTION}",
                f"--web.listen-address={LOOPBACK}:{prom_port}",
                "--web.enable-lifecycle",
            ],
        )

    @property
    def prometheus_url(self) -> str:
        return self.prometheus.url

    @property
    def alertmanager_url(self) -> str:
        return self.alertmanager.url

    def render(self) -> list[Path]:
        """Write both files for the ports the local backend has handed out so far."""
        self._targets = files.targets_in(self.state_dir)
        rendered = files.for_state(
            self.state_dir,
            plane_url=self.plane_url,
            alertmanager_address=f"{LOOPBACK}:{self.alertmanager.port}",
        )
        return files.write(self.out, rendered)

    def start(self, timeout_s: float = READY_TIMEOUT_S) -> MonitoringStack:
        """Render, start both, wait until both are ready; stop both if either is not."""
        self.render()
        deadline = time.monotonic() + timeout_s
        try:
            self.alertmanager.start()
            self.prometheus.start()
            self.alertmanager.wait_ready(deadline)
            self.prometheus.wait_ready(deadline)
        except BaseException:
            self.stop()
            raise
        log.info("prometheus at %s, alertmanager at %s", self.prometheus.url, self.alertmanager.url)
        return self

    def reload(self) -> None:
        """Re-render prometheus.yml from the state (new front ports) and have Prometheus reload."""
        self.render()
        try:
            response = httpx.post(f"{self.prometheus.url}/-/reload", timeout=10)
        except httpx.HTTPError as exc:
            raise MonitoringError(f"prometheus reload failed: {exc}") from exc
        if response.status_code != 200:
            raise MonitoringError(
                f"prometheus refused the new configuration ({response.status_code}): "
                f"{response.text.strip()}; see {self.prometheus.log_file}"
            )

    def follow(self, every_s: float = FOLLOW_EVERY_S) -> threading.Thread:
        """Reload Prometheus whenever the local backend hands out a new front port (a thread).

        The ports are known only once each service is deployed (asynchronously, after the
        plane answers), and a later staging or production deployment adds targets too.
        """

        def watch() -> None:
            while not self._stopping.wait(every_s):
                try:
                    now = files.targets_in(self.state_dir)
                except (OSError, ValueError):  # mid-write or unreadable: the next look
                    continue
                if now == self._targets:
                    continue
                try:
                    self.reload()
                    log.info("prometheus reloaded: %d service targets", len(now))
                except (MonitoringError, OSError) as exc:
                    self._targets = now  # said once, not every few seconds
                    log.error("%s", exc)

        thread = threading.Thread(target=watch, name="monitoring-targets", daemon=True)
        thread.start()
        return thread

    def pids(self) -> list[int]:
        """The running children's process ids."""
        return [c.proc.pid for c in (self.prometheus, self.alertmanager) if c.proc is not None]

    def stop(self) -> int:
        """Stop Prometheus, then Alertmanager (terminate, then kill); how many were running."""
        self._stopping.set()
        stopped = 0
        for child in (self.prometheus, self.alertmanager):
            try:
                stopped += child.stop()
            except (OSError, subprocess.SubprocessError) as exc:  # the other one still stops
                log.error("%s (pid %s) did not stop: %s", child.name, child.proc, exc)
        return stopped
