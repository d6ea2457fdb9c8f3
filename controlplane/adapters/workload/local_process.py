"""Start, probe and stop one service process on loopback, whether we spawned it or adopted it."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx

READY_POLL_S = 0.1


def spawn(
    argv: list[str], log_path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session (so stop() reaches its children), output to a log file."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )


def pid_alive(pid: int) -> bool:
    """True when `pid` exists and is not a zombie waiting to be reaped."""
    with contextlib.suppress(ChildProcessError, OSError):
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def probe(url: str, path: str, timeout_s: float = 1.0) -> bool:
    """True when GET url+path answers 200."""
    try:
        return httpx.get(url + path, timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def wait_ready(
    url: str, exited: Callable[[], bool], timeout_s: float, *, poll_s: float = READY_POLL_S
) -> str | None:
    """Wait for /ready; return None when ready, else why not (exited, or timed out)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if probe(url, "/ready"):
            return None
        if exited():
            return "the process exited before it became ready"
        time.sleep(poll_s)
    return f"/ready did not answer 200 within {timeout_s:g}s"


def stop(*pids: int, grace_s: float = 10.0) -> None:
    """SIGTERM the process groups together, then SIGKILL those that outlive the grace period.

    Together, so stopping many processes takes at most grace_s + 5 s, not that per process.
    """
    left = set(pids)
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            left = {pid for pid in left if pid_alive(pid)}
            if not left:
                return
            time.sleep(0.05)


# Access-log lines of the plane's own probes: while a release fails to get ready they fill the
# log, and would push the line that says why out of any tail.
_PROBE_LINE = re.compile(r'"(GET|HEAD) /(ready|health|metrics) HTTP/')


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of a process log, without the plane's probe noise, for failure reasons."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    kept = [line for line in text.splitlines() if not _PROBE_LINE.search(line)]
    return "\n".join(kept[-lines:])
