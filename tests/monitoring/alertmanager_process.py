"""A real Alertmanager per test on a free loopback port (Debian package `prometheus-alertmanager`).

Clustering is off (`--cluster.listen-address=`), state lives in tmp_path, and the only receiver
is a null one: the tests talk to the silences API, nothing is ever notified.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

CONFIG = """\
route:
  receiver: "null"
receivers:
  - name: "null"
"""
BINARIES = ("prometheus-alertmanager", "alertmanager")  # Debian's name, then upstream's


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alertmanager_binary() -> str | None:
    return next((found for name in BINARIES if (found := shutil.which(name))), None)


class Alertmanager:
    """One Alertmanager process; `url` is its web address, `stop()` ends it (idempotent)."""

    def __init__(self, binary: str, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        (root / "alertmanager.yml").write_text(CONFIG)
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = root / "alertmanager.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={root / 'alertmanager.yml'}",
                    f"--storage.path={root / 'data'}",
                    f"--web.listen-address={self.url.removeprefix('http://')}",
                    "--cluster.listen-address=",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"alertmanager exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"alertmanager was not ready within {timeout_s} s:\n{self.logs()}")

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
