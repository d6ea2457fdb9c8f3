"""In-memory workload backend for tests and dry runs: no processes, same contract."""

from __future__ import annotations

from dataclasses import dataclass, field

from controlplane.adapters.base import LogChunk, Release, RolloutResult, Target, WorkloadStatus
from controlplane.errors import AdapterError, AdapterUnavailable, NotFound


@dataclass
class _Slot:
    release: Release
    replicas: int = 1
    restarts: int = 0
    history: list[str] = field(default_factory=list)


class FakeWorkloadBackend:
    """Remembers what runs where; releases listed in `never_ready` fail like a broken rollout."""

    name = "fake"

    def __init__(self, *, never_ready: set[str] | None = None, down: bool = False) -> None:
        self.never_ready = set(never_ready or ())
        self.unhealthy: set[str] = set()  # ready, but failing the post-rollout health check
        self.down = down
        self.slots: dict[Target, _Slot] = {}
        self.calls: list[tuple[str, str, str | None]] = []
        self.log_lines: dict[Target, list[tuple[str, str]]] = {}  # (release, line), oldest first

    def deploy(self, target: Target, release: Release) -> RolloutResult:
        """Switch to `release` unless it is marked never-ready."""
        return self._rollout(target, release, "deploy")

    def restore(self, target: Target, previous_release: Release) -> RolloutResult:
        """Switch back to `previous_release`."""
        return self._rollout(target, previous_release, "restore")

    def restart(self, target: Target) -> RolloutResult:
        """Count a restart of the current release."""
        slot = self._slot(target)
        result = self._rollout(target, slot.release, "restart")
        slot.restarts += 1
        return result

    def scale(self, target: Target, replicas: int) -> WorkloadStatus:
        """Record the replica count."""
        self._check("scale", target, str(replicas))
        if replicas < 0:
            raise AdapterError(f"replicas must be >= 0, got {replicas}")
        self._slot(target).replicas = replicas
        return self.status(target)

    def status(self, target: Target) -> WorkloadStatus:
        """What the fake runs for `target`."""
        self._check("status", target, None)
        slot = self.slots.get(target)
        if slot is None:
            return WorkloadStatus(target, None, "absent")
        state = "running" if slot.replicas else "stopped"
        return WorkloadStatus(
            target, slot.release.ref, state, slot.replicas, slot.replicas,
            url=f"fake://{target.key}", details={"restarts": slot.restarts},
        )  # fmt: skip

    def logs(
        self,
        target: Target,
        *,
        release: str | None = None,
        tail: int = 100,
        after: str | None = None,
    ) -> LogChunk:
        """Lines the fake "processes" wrote (one per rollout, and write_log); cursor: a count."""
        self._check("logs", target, release)
        slot = self.slots.get(target)
        wanted = release or (slot.release.ref if slot else None)
        written = self.log_lines.get(target, [])
        numbered = [(i, line) for i, (ref, line) in enumerate(written) if ref == wanted]
        if not numbered:
            raise NotFound(f"no log of {wanted or 'any release'} for {target.key}")
        start = int(after) if after is not None else 0
        lines = [(i, line) for i, line in numbered if i >= start]
        if after is None:
            lines = lines[-tail:] if tail > 0 else []
        source = f"fake://{target.key}/{wanted}"
        return LogChunk(target, wanted, source, [line for _, line in lines], str(len(written)))

    def write_log(self, target: Target, line: str) -> None:
        """What the serving release of `target` prints next (for tests)."""
        self.log_lines.setdefault(target, []).append((self._slot(target).release.ref, line))

    @property
    def running(self) -> dict[str, str]:
        """What serves per target key (`service/env`), for assertions."""
        return {t.key: slot.release.ref for t, slot in self.slots.items() if slot.replicas}

    def health(self, url: str) -> dict[str, object]:
        """The plane's health check: healthy unless the serving release is marked unhealthy."""
        ref = self.running.get(url.removeprefix("fake://"), "")
        healthy = ref not in self.unhealthy
        return {
            "healthy": healthy,
            "ready": True,
            "error_rate": 0.0 if healthy else 0.5,
            "reason": "" if healthy else "error rate 50% over the window",
        }

    def _rollout(self, target: Target, release: Release, action: str) -> RolloutResult:
        self._check(action, target, release.ref)
        slot = self.slots.get(target)
        previous = slot.release.ref if slot else None
        self.log_lines.setdefault(target, []).append(
            (release.ref, f"{action}: starting {release.ref}")
        )
        if release.ref in self.never_ready:
            return RolloutResult(
                False, target, previous, previous,
                reason=f"{action} of {release.ref} refused: it never became ready",
                details={"action": action, "log_tail": self.log_lines[target][-1][1]},
            )  # fmt: skip
        if slot is None:
            self.slots[target] = slot = _Slot(release)
        slot.release, slot.replicas = release, max(slot.replicas, 1)
        slot.history.append(release.ref)
        return RolloutResult(
            True, target, release.ref, previous, url=f"fake://{target.key}",
            details={"action": action},
        )  # fmt: skip

    def _slot(self, target: Target) -> _Slot:
        slot = self.slots.get(target)
        if slot is None:
            raise NotFound(f"nothing deployed for {target.key}")
        return slot

    def _check(self, op: str, target: Target, arg: str | None) -> None:
        self.calls.append((op, target.key, arg))
        if self.down:
            raise AdapterUnavailable("fake workload backend is down")
