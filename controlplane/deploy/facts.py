"""What the deployment gates judge: the request, the time, release history and freeze windows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from controlplane.errors import InvalidRequest
from controlplane.handoff.invariants import KNOWN_SERVICES as KNOWN_SERVICES  # re-exported
from controlplane.handoff.models import DeploymentRequest, SecurityAuditResult
from controlplane.handoff.release import Release
from controlplane.policy.models import Decision, Environment

SUCCEEDED = "succeeded"
_KNOWN = frozenset(KNOWN_SERVICES)
PREDECESSOR: dict[Environment, Environment] = {
    Environment.STAGING: Environment.DEV,
    Environment.PRODUCTION: Environment.STAGING,
}
DEFAULT_SOAK: dict[Environment, timedelta] = {
    Environment.DEV: timedelta(0),
    Environment.STAGING: timedelta(0),
    Environment.PRODUCTION: timedelta(minutes=15),
}


def require_known_service(service: str | None) -> None:
    """Refuse a service the plane does not manage: a 422 naming the field and the known ones,
    shaped like every other invalid field (details.errors)."""
    if service is not None and service not in _KNOWN:
        reason = f"unknown service {service!r}; expected one of {', '.join(KNOWN_SERVICES)}"
        raise InvalidRequest(
            f"body.service: {reason}", {"errors": [{"field": "body.service", "reason": reason}]}
        )


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")


@dataclass(frozen=True)
class ReleaseFact:
    """One past deployment as the caller found it in the records (the gates never query)."""

    service: str
    environment: Environment
    release: Release
    status: str
    finished_at: datetime | None = None
    healthy_since: datetime | None = None
    healthy_until: datetime | None = None  # None: still live and healthy

    def __post_init__(self) -> None:
        for name in ("finished_at", "healthy_since", "healthy_until"):
            _require_aware(name, getattr(self, name))

    def healthy_for(self, now: datetime) -> timedelta:
        """How long this release ran healthy without interruption (zero if it never did)."""
        if self.healthy_since is None or self.status != SUCCEEDED:
            return timedelta(0)
        end = self.healthy_until or now
        return max(timedelta(0), end - self.healthy_since)


def matching(
    history: Iterable[ReleaseFact], *, service: str, environment: Environment, release: Release
) -> list[ReleaseFact]:
    """The facts about this exact release of this service in one environment."""
    return [
        f
        for f in history
        if f.service == service and f.environment == environment and f.release == release
    ]


@dataclass(frozen=True)
class FreezeWindow:
    """A declared change freeze; no environments listed means every environment."""

    start: datetime
    end: datetime
    reason: str
    environments: frozenset[Environment] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        _require_aware("start", self.start)
        _require_aware("end", self.end)
        if self.end <= self.start:
            raise ValueError(f"freeze window ends ({self.end}) before it starts ({self.start})")

    def covers(self, environment: Environment, at: datetime) -> bool:
        """Whether a deployment to `environment` at `at` falls inside this freeze."""
        applies = not self.environments or environment in self.environments
        return applies and self.start <= at < self.end


@dataclass(frozen=True)
class AuditTrust:
    """Whether the plane can vouch for the request's security audit, and the audit it trusts.

    Local bundles: the release registry's own signed audit. Images: an audit signed by a CI key
    the plane is configured to trust. `audit`, when known, is the one the security gate judges
    (the registry's copy even when the request's differs from it).
    """

    trusted: bool
    reason: str
    audit: SecurityAuditResult | None = None


@dataclass(frozen=True)
class GateContext:
    """Everything the gates judge: the request, the time, the facts the caller looked up."""

    request: DeploymentRequest
    now: datetime
    decision: Decision | None
    history: Sequence[ReleaseFact] = ()
    soak: Mapping[Environment, timedelta] = field(default_factory=lambda: dict(DEFAULT_SOAK))
    freeze_windows: Sequence[FreezeWindow] = ()
    operation: str = "deploy"
    audit_trust: AuditTrust | None = None  # None: nobody vouched (refused outside dev)

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("GateContext.now must be timezone-aware")

    def soak_for(self, environment: Environment) -> timedelta:
        """The soak a release needs in the environment before `environment` (default table)."""
        return self.soak.get(environment, DEFAULT_SOAK[environment])
