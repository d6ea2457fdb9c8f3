"""In-memory fakes for the adapters, for tests and the embedded default."""

from __future__ import annotations

from controlplane.adapters.base import QueryResult, Release, RolloutResult, Target, WorkloadStatus
from controlplane.errors import AdapterUnavailable


class FakeMetrics:
    """Answers PromQL from a dict; `down=True` simulates an unreachable server."""

    name = "fake-prometheus"

    def __init__(self, answers: dict[str, bool] | None = None, *, down: bool = False) -> None:
        self.answers = dict(answers or {})
        self.down = down
        self.queries: list[str] = []

    def query(self, promql: str) -> QueryResult:
        """Return the configured answer (default: nothing matched)."""
        self.queries.append(promql)
        if self.down:
            raise AdapterUnavailable("fake prometheus is down")
        matched = self.answers.get(promql, False)
        return QueryResult(matched, "vector", [{"value": [0, "1"]}] if matched else [])


class FakeWorkloads:
    """Workloads in memory: every deploy succeeds unless its ref is listed as never ready."""

    name = "fake"

    def __init__(self) -> None:
        self.never_ready: set[str] = set()
        self.unhealthy: set[str] = set()
        self.running: dict[str, str] = {}
        self.calls: list[tuple[str, str, str]] = []

    def deploy(self, target: Target, release: Release) -> RolloutResult:
        """Switch the target to `release` unless it is configured never to become ready."""
        self.calls.append(("deploy", target.key, release.ref))
        previous = self.running.get(target.key)
        if release.ref in self.never_ready:
            return RolloutResult(False, target, previous, previous, reason="never became ready")
        self.running[target.key] = release.ref
        return RolloutResult(True, target, release.ref, previous, url=f"fake://{target.key}")

    def restore(self, target: Target, previous_release: Release) -> RolloutResult:
        """Put an earlier release back."""
        self.calls.append(("restore", target.key, previous_release.ref))
        current = self.running.get(target.key)
        self.running[target.key] = previous_release.ref
        return RolloutResult(
            True, target, previous_release.ref, current, url=f"fake://{target.key}"
        )

    def status(self, target: Target) -> WorkloadStatus:
        """What the fake runs for a target."""
        ref = self.running.get(target.key)
        state = "running" if ref else "absent"
        return WorkloadStatus(
            target,
            ref,
            state,
            1 if ref else 0,
            1 if ref else 0,
            url=f"fake://{target.key}" if ref else None,
        )

    def scale(self, target: Target, replicas: int) -> WorkloadStatus:
        """Scaling to zero stops the fake workload."""
        if replicas == 0:
            self.running.pop(target.key, None)
        return self.status(target)

    def restart(self, target: Target) -> RolloutResult:
        """Nothing to restart in memory."""
        ref = self.running.get(target.key)
        return RolloutResult(ref is not None, target, ref, ref, url=f"fake://{target.key}")

    def health(self, url: str) -> dict[str, object]:
        """Healthy unless the running release is listed as unhealthy."""
        key = url.removeprefix("fake://")
        ref = self.running.get(key, "")
        healthy = ref not in self.unhealthy
        return {
            "healthy": healthy,
            "ready": True,
            "error_rate": 0.0 if healthy else 0.5,
            "reason": "" if healthy else "error rate 50% over the window",
        }
