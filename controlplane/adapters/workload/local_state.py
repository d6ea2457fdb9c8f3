"""The local backend's JSON state file: ports per target and the active instance of each."""

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
    """Everything recorded for one target: its two ports and what serves on them."""

    ports: list[int] = field(default_factory=list)
    release: dict[str, Any] | None = None
    active: Instance | None = None
    pending: Instance | None = None
    replicas: int = 1
    history: list[str] = field(default_factory=list)


def port_free(port: int) -> bool:
    """True when nothing listens on loopback:port right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


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
        body = {"version": 1, "targets": {key: asdict(value) for key, value in targets.items()}}
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".state-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(body, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def allocate_ports(self, targets: dict[str, TargetState], key: str) -> list[int]:
        """Give `key` two stable ports (blue/green) the first time it is seen."""
        state = targets.setdefault(key, TargetState())
        taken = {port for other in targets.values() for port in other.ports}
        while len(state.ports) < 2:
            port = self._free_port(taken)
            state.ports.append(port)
            taken.add(port)
        return state.ports

    def _free_port(self, taken: set[int]) -> int:
        if self.base_port == 0:  # let the OS choose (tests, or when any port will do)
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port: int = sock.getsockname()[1]
            if port not in taken:
                return port
            return self._free_port(taken)
        for port in range(self.base_port, self.base_port + self.port_span):
            if port not in taken and port_free(port):
                return port
        raise AdapterError(
            f"no free loopback port in {self.base_port}-{self.base_port + self.port_span - 1}"
        )


def _target_from_json(value: dict[str, Any]) -> TargetState:
    active, pending = value.get("active"), value.get("pending")
    return TargetState(
        ports=[int(p) for p in value.get("ports", [])],
        release=value.get("release"),
        active=Instance(**active) if active else None,
        pending=Instance(**pending) if pending else None,
        replicas=int(value.get("replicas", 1)),
        history=list(value.get("history", [])),
    )
