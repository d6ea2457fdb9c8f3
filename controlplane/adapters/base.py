"""Protocols for every outside system the plane talks to; fakes live beside the real ones."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class QueryResult:
    """A PromQL answer reduced to what signals need: did anything match, and what."""

    matched: bool
    result_type: str
    samples: list[dict[str, Any]] = field(default_factory=list)


class MetricsSource(Protocol):
    """Something that answers PromQL instant queries (Prometheus, or a fake)."""

    name: str

    def query(self, promql: str) -> QueryResult:
        """Evaluate an instant query; raise AdapterUnavailable when the source cannot answer."""
        ...


# --- Workloads (DESIGN §5, §9): where the ML services run --------------------------------------

RELEASE_REF = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._/:-]*)@sha256:(?P<digest>[0-9a-f]{64})$")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class Target:
    """One managed workload: a service in an environment (names double as k8s and file names)."""

    service: str
    environment: str

    def __post_init__(self) -> None:
        for value in (self.service, self.environment):
            if not _NAME.match(value):
                raise ValueError(f"{value!r} is not a valid service or environment name")

    @property
    def key(self) -> str:
        """A stable string form, `service/environment`."""
        return f"{self.service}/{self.environment}"


@dataclass(frozen=True)
class Release:
    """What to run: a digest-pinned reference plus what the backend needs to run it."""

    ref: str
    artifact: str | None = None
    image: str | None = None
    model_version: str | None = None

    def __post_init__(self) -> None:
        if not RELEASE_REF.match(self.ref):
            raise ValueError(f"release {self.ref!r} is not <name>@sha256:<64 hex>")

    @property
    def digest(self) -> str:
        """The sha256 hex digest the reference pins."""
        return self.ref.rsplit(":", 1)[1]

    def to_json(self) -> dict[str, str | None]:
        """Plain JSON for state files and results."""
        return {
            "ref": self.ref,
            "artifact": self.artifact,
            "image": self.image,
            "model_version": self.model_version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Release:
        """Inverse of to_json."""
        return cls(data["ref"], data.get("artifact"), data.get("image"), data.get("model_version"))


@dataclass(frozen=True)
class RolloutResult:
    """What a deploy, restore or restart did: ok, what now serves, and why when it failed."""

    ok: bool
    target: Target
    release: str | None
    previous: str | None
    reason: str = ""
    url: str | None = None  # where the new release answers; the stable address once switched
    duration_s: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LogChunk:
    """Lines of one service's log, and where to continue reading (for --follow)."""

    target: Target
    release: str | None  # the release whose process wrote these lines
    source: str  # a log file path, or pod name
    lines: list[str]
    cursor: str  # opaque; pass back as `after` to get only newer lines


@dataclass(frozen=True)
class WorkloadStatus:
    """What runs for a target now: release, replicas and whether it is ready."""

    target: Target
    release: str | None
    state: str  # absent | running | progressing | degraded | stopped
    replicas: int = 0
    ready_replicas: int = 0
    url: str | None = None  # the target's stable address (survives rollouts), when it has one
    since: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class WorkloadBackend(Protocol):
    """Runs releases of the ML services (local processes, Kubernetes, or a fake)."""

    name: str

    def deploy(self, target: Target, release: Release) -> RolloutResult:
        """Roll out `release`; on failure keep (or put back) what served before."""
        ...

    def status(self, target: Target) -> WorkloadStatus:
        """Report what runs for `target` now."""
        ...

    def restore(self, target: Target, previous_release: Release) -> RolloutResult:
        """Roll back to an earlier healthy release."""
        ...

    def scale(self, target: Target, replicas: int) -> WorkloadStatus:
        """Set the replica count (0 stops the workload)."""
        ...

    def restart(self, target: Target) -> RolloutResult:
        """Restart the current release without downtime where the backend allows."""
        ...

    def logs(
        self,
        target: Target,
        *,
        release: str | None = None,
        tail: int = 100,
        after: str | None = None,
    ) -> LogChunk:
        """The last `tail` lines of the target's current process log (or of `release`'s newest log),
        or, with `after`, the lines written since that cursor. NotFound when there is no log."""
        ...


@runtime_checkable
class PredictionLogs(Protocol):
    """A backend whose services write their prediction log where the plane can read it."""

    def prediction_log(self, target: Target) -> Path:
        """The folder of `target`'s `predictions.jsonl` and `ground_truth.jsonl`."""
        ...


class ClusterApi(Protocol):
    """The few Kubernetes API calls the workload backend makes, on plain JSON objects."""

    def ensure_namespace(self, namespace: str) -> None:
        """Create the namespace when it does not exist."""
        ...

    def read_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Deployment as JSON, or None when there is none."""
        ...

    def create_deployment(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a Deployment from a full manifest."""
        ...

    def patch_deployment(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """Apply a JSON merge patch (RFC 7386) to a Deployment."""
        ...

    def ensure_service(self, namespace: str, body: dict[str, Any]) -> None:
        """Create the Service unless one of that name exists."""
        ...

    def list_pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """The pods matching a label selector, as JSON."""
        ...

    def read_pod_log(
        self, namespace: str, name: str, *, tail_lines: int | None, since_seconds: int | None
    ) -> str:
        """A pod's log, each line prefixed with its RFC 3339 timestamp."""
        ...
