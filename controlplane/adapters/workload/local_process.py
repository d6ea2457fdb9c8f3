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
PROBE_ACCESS = re.compile(r'"GET /(ready|health) HTTP/[\d.]+"')
ERROR_WORDS = re.compile(r"error|exception|traceback|refus", re.IGNORECASE)

# Exit codes of children this process reaped in pid_alive (waitpid leaves none for Popen).
_exit_codes: dict[int, int] = {}


def spawn(
    argv: list[str], log_path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session (so stop() reaches its children), output to a log file."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        child = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    _exit_codes.pop(child.pid, None)  # a reused pid: the old code is not this process's
    return child


def pid_alive(pid: int) -> bool:
    """True when `pid` exists and is not a zombie waiting to be reaped."""
    if _reap(pid):
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


def _reap(pid: int) -> bool | None:
    """Reap `pid` if it is our exited child, keeping its exit code: True when reaped now, False
    while it runs, None when it is not (or no longer) our child."""
    try:
        reaped, status = os.waitpid(pid, os.WNOHANG)
    except OSError:  # ChildProcessError: not our child (or reaped elsewhere)
        return None
    if reaped != pid:
        return False
    _exit_codes[pid] = os.waitstatus_to_exitcode(status)
    return True


def exited_how(pid: int, wait_s: float = 1.0) -> str:
    """`process 12 exited (code 1)`, or `(killed by SIGKILL)`; vaguer for a process not ours.

    Waits a moment for a child that is a zombie already: its leader cannot be reaped until its
    other threads are gone too, so its exit code comes a little after it stopped answering.
    """
    deadline = time.monotonic() + wait_s
    while _reap(pid) is False and time.monotonic() < deadline:
        time.sleep(0.02)
    code = _exit_codes.get(pid)
    if code is None:
        return f"process {pid} is no longer running"
    if code < 0:
        return f"process {pid} exited (killed by {signal.Signals(-code).name})"
    return f"process {pid} exited (code {code})"


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


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of a process log, for failure reasons; our own probes' access lines are
    left out, as polling /ready every 100 ms would otherwise push out the line that says why."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    kept = [line for line in text.splitlines() if not PROBE_ACCESS.search(line)]
    return "\n".join(kept[-lines:])


def telling_line(tail: str) -> str:
    """The line of a log tail most likely to say why: the last error, else the last line."""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    errors = [line for line in lines if ERROR_WORDS.search(line)]
    return (errors or lines or ["(empty)"])[-1]
