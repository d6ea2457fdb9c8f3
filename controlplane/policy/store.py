"""Keeps the last good policy: a bad edit is refused and reported, never half-applied."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from controlplane.policy.compiled import CompiledPolicy
from controlplane.policy.loader import PolicyError, load_policy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PolicyStatus:
    """What is loaded, from where, and the last refusal if any."""

    directory: str
    version: str | None
    last_error: str | None


class PolicyStore:
    """Loads `policies/` and reloads it when files change, keeping the last valid one."""

    def __init__(self, directory: Path, *, check_every_s: float = 2.0) -> None:
        self.directory = directory
        self._check_every = check_every_s
        self._lock = threading.Lock()
        self._policy: CompiledPolicy | None = None
        self._fingerprint: tuple[tuple[str, float, int], ...] = ()
        self._next_check = 0.0
        self.last_error: str | None = None
        self.reload()

    def _files_fingerprint(self) -> tuple[tuple[str, float, int], ...]:
        try:
            files = sorted(self.directory.glob("*.y*ml"))
            stats = [(p.name, p.stat()) for p in files]
            return tuple((name, st.st_mtime, st.st_size) for name, st in stats)
        except OSError:
            return ()

    def reload(self) -> bool:
        """Try to load the directory; on failure keep the previous policy and remember why."""
        fingerprint = self._files_fingerprint()
        try:
            policy = load_policy(self.directory)
        except (PolicyError, OSError) as exc:
            with self._lock:
                self._fingerprint = fingerprint
                self.last_error = str(exc)
            log.error("policy refused, keeping version %s: %s", self.version, exc)
            return False
        with self._lock:
            self._policy = policy
            self._fingerprint = fingerprint
            self.last_error = None
        log.info("policy %s loaded from %s", policy.version[:12], self.directory)
        return True

    def current(self) -> CompiledPolicy | None:
        """The last good policy, after a cheap check for edited files."""
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + self._check_every
            if self._files_fingerprint() != self._fingerprint:
                self.reload()
        return self._policy

    @property
    def version(self) -> str | None:
        """sha256 of the loaded policy files, if any are loaded."""
        return self._policy.version if self._policy else None

    def status(self) -> PolicyStatus:
        """A snapshot for /v1/policies."""
        return PolicyStatus(str(self.directory), self.version, self.last_error)
