"""The local backend's JSON state file: each target's fixed front port and what serves behind it."""

from __future__ import annotations

import json
import os
import socket
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from controlplane.errors import AdapterError

STATE_FILE = "state.json"
LOGS_KEPT = 20


@dataclass
class Instance:
    """One running process of a release, as recorded on disk."""

    release: dict[str, Any]
    pid: int
    port: int
    since: str
    log: str


@dataclass
class TargetState:
    """Everything recorded for one target: its stable front, what serves behind it, its logs."""

    release: dict[str, Any] | None = None
    active: Instance | None = None
    pending: Instance | None = None
    replicas: int = 1
    history: list[str] = field(default_factory=list)
    front_port: int | None = None  # allocated once, never changed: the target's address
    front_pid: int | None = None
    # {release, log, pid, since} per process started, newest last
    logs: list[dict[str, Any]] = field(default_factory=list)

    def ports_in_use(self) -> set[int]:
        """Ports recorded for this target (its front and its instances)."""
        ports = {i.port for i in (self.active, self.pending) if i}
        return ports | ({self.front_port} if self.front_port else set())

    def record_log(self, instance: Instance) -> None:
        """Remember which release wrote which log, so logs of a failed rollout stay findable."""
        entry = {"release": instance.release["ref"], "log": instance.log, "pid": instance.pid}
        self.logs = [*self.logs, {**entry, "since": instance.since}][-LOGS_KEPT:]


def port_free(port: int) -> bool:
    """True when nothing listens on loopback:port right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def os_port(taken: set[int] | None = None) -> int:
    """A loopback port the OS says is free right now, outside `taken`."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in (taken or set()):
            return port


class StateFile:
    """Reads and atomically rewrites `<dir>/state.json` so a crash never leaves half a file."""

    def __init__(self, directory: Path, *, base_port: int = 8800, port_span: int = 1000) -> None:
        self.directory = directory
        self.path = directory / STATE_FILE
        self.base_port = base_port
        self.port_span = port_span
        directory.mkdir(parents=True, exist_ok=True)

    def load(self) -> dict[str, TargetState]:
        """All recorded targets by key; an absent file means nothing was ever deployed."""
        if not self.path.exists():
            return {}
        try:
            raw = json.loads(self.path.read_text())
            return {key: _target_from_json(value) for key, value in raw["targets"].items()}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AdapterError(f"workload state file {self.path} is unreadable: {exc}") from exc

    def save(self, targets: dict[str, TargetState]) -> None:
        """Write every target's state in one atomic replace."""
        body = {"version": 2, "targets": {key: asdict(value) for key, value in targets.items()}}
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".state-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(body, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def front_port(self, targets: dict[str, TargetState], key: str) -> int:
        """The target's address port: allocated the first time it is seen, then kept for good."""
        state = targets.setdefault(key, TargetState())
        if state.front_port is None:
            state.front_port = self._free_port(_taken(targets))
        return state.front_port

    def instance_port(self, targets: dict[str, TargetState]) -> int:
        """A port for a new blue/green instance: any free one no target has recorded."""
        return os_port(_taken(targets))

    def _free_port(self, taken: set[int]) -> int:
        if self.base_port == 0:  # let the OS choose (tests, or when any port will do)
            return os_port(taken)
        for port in range(self.base_port, self.base_port + self.port_span):
            if port not in taken and port_free(port):
                return port
        raise AdapterError(
            f"no free loopback port in {self.base_port}-{self.base_port + self.port_span - 1}"
        )


def _taken(targets: dict[str, TargetState]) -> set[int]:
    return {port for state in targets.values() for port in state.ports_in_use()}


def _target_from_json(value: dict[str, Any]) -> TargetState:
    """One target from disk; version-1 files (two fixed blue/green ports) load without a front."""
    active, pending = value.get("active"), value.get("pending")
    return TargetState(
        release=value.get("release"),
        active=Instance(**active) if active else None,
        pending=Instance(**pending) if pending else None,
        replicas=int(value.get("replicas", 1)),
        history=list(value.get("history", [])),
        front_port=value.get("front_port"),
        front_pid=value.get("front_pid"),
        logs=list(value.get("logs", [])),
    )
