"""Pure parsing of the dashboard's filter forms: known fields only, dates, bounded values.

Every refusal is an InvalidRequest naming the field and the reason, so a bad link renders as a
422 page that says what to fix (never a 500, never a silently ignored filter).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from controlplane.errors import InvalidRequest

AUDIT_FIELDS = (
    "actor", "kind", "operation", "environment", "service", "result", "since", "until", "q",
    "cursor", "limit",
)  # fmt: skip
DEPLOYMENT_FIELDS = ("service", "environment", "status")
ENVIRONMENTS = ("dev", "staging", "production")
ACTOR_KINDS = ("human", "agent", "ci", "service")
DEPLOYMENT_STATUSES = (
    "blocked", "pending_approval", "approved", "executing", "succeeded", "failed", "rolled_back",
    "rejected", "expired",
)  # fmt: skip
AUDIT_RESULTS = (
    "requested", "answered", "success", "failure", "halted", "rejected", "expired", "skipped",
    "refused",
)  # fmt: skip
MAX_TEXT = 200


def refuse(field: str, reason: str) -> InvalidRequest:
    """The one shape of a filter refusal: which field, and why."""
    return InvalidRequest(f"{field}: {reason}", {"errors": [{"field": field, "reason": reason}]})


def only_known(params: Iterable[str], allowed: Iterable[str]) -> None:
    """Refuse a query with a field the page does not filter on (a typo is not ignored)."""
    known = tuple(allowed)
    for name in params:
        if name not in known:
            raise refuse(name, f"unknown filter field; this page filters on {', '.join(known)}")


def text(params: Mapping[str, str], name: str) -> str | None:
    """A free-text field: empty means unset; bounded length."""
    value = (params.get(name) or "").strip()
    if len(value) > MAX_TEXT:
        raise refuse(name, f"at most {MAX_TEXT} characters")
    return value or None


def choice(params: Mapping[str, str], name: str, options: Iterable[str]) -> str | None:
    """A field that must be one of a few values (empty means unset)."""
    value = text(params, name)
    allowed = tuple(options)
    if value is not None and value not in allowed:
        raise refuse(name, f"expected one of {', '.join(allowed)}")
    return value


def when(params: Mapping[str, str], name: str) -> datetime | None:
    """An ISO 8601 date or date-time (UTC when no offset is given)."""
    value = text(params, name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise refuse(
            name, f"{value!r} is not a date (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def number(
    params: Mapping[str, str], name: str, *, low: int, high: int, default: int | None
) -> int | None:
    """A whole number within bounds."""
    value = text(params, name)
    if value is None:
        return default
    if not value.isdigit():
        raise refuse(name, f"{value!r} is not a whole number")
    parsed = int(value)
    if not low <= parsed <= high:
        raise refuse(name, f"must be between {low} and {high}")
    return parsed


@dataclass(frozen=True)
class AuditFilter:
    """What the audit review shows: filters, text search and a keyset cursor."""

    actor: str | None = None
    kind: str | None = None
    operation: str | None = None
    environment: str | None = None
    service: str | None = None
    result: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None
    cursor: int | None = None
    limit: int = 50

    def query(self, *, cursor: int | None = None, with_cursor: bool = True) -> dict[str, str]:
        """The filter as query parameters (for links: next page, export)."""
        out = {
            "actor": self.actor, "kind": self.kind, "operation": self.operation,
            "environment": self.environment, "service": self.service, "result": self.result,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None, "q": self.q,
        }  # fmt: skip
        if with_cursor:
            out["cursor"] = str(cursor) if cursor is not None else None
            out["limit"] = str(self.limit) if self.limit != 50 else None
        return {k: v for k, v in out.items() if v}


def audit_filter(params: Mapping[str, str]) -> AuditFilter:
    """Parse the audit review's query string (refusing unknown fields and bad values)."""
    only_known(params, AUDIT_FIELDS)
    since, until = when(params, "since"), when(params, "until")
    if since and until and since >= until:
        raise refuse("until", "must be after since")
    return AuditFilter(
        actor=text(params, "actor"),
        kind=choice(params, "kind", ACTOR_KINDS),
        operation=text(params, "operation"),
        environment=choice(params, "environment", ENVIRONMENTS),
        service=text(params, "service"),
        result=choice(params, "result", AUDIT_RESULTS),
        since=since,
        until=until,
        q=text(params, "q"),
        cursor=number(params, "cursor", low=0, high=2**62, default=None),
        limit=number(params, "limit", low=1, high=500, default=50) or 50,
    )


@dataclass(frozen=True)
class DeploymentFilter:
    """What the deployments page lists."""

    service: str | None = None
    environment: str | None = None
    status: str | None = None


def deployment_filter(params: Mapping[str, str], services: Iterable[str]) -> DeploymentFilter:
    """Parse the deployments page's query string."""
    only_known(params, DEPLOYMENT_FIELDS)
    return DeploymentFilter(
        service=choice(params, "service", services),
        environment=choice(params, "environment", ENVIRONMENTS),
        status=choice(params, "status", DEPLOYMENT_STATUSES),
    )


DORA_FIELDS = ("window", "service", "bands")
DORA_WINDOWS = (7, 30, 90)


@dataclass(frozen=True)
class DoraFilter:
    """What the DORA page measures: a window in days, one service or all, a band table."""

    window: int = 30
    service: str | None = None
    bands: str = "2023"

    def query(self) -> dict[str, str]:
        """The filter as query parameters (the CSV link carries the same view)."""
        out = {"window": str(self.window), "service": self.service, "bands": self.bands}
        return {k: v for k, v in out.items() if v}


def dora_filter(
    params: Mapping[str, str], services: Iterable[str], band_tables: Iterable[str], default: str
) -> DoraFilter:
    """Parse the DORA page's (and its CSV's) query string."""
    only_known(params, DORA_FIELDS)
    window = choice(params, "window", [str(w) for w in DORA_WINDOWS])
    return DoraFilter(
        window=int(window) if window else 30,
        service=choice(params, "service", services),
        bands=choice(params, "bands", band_tables) or default,
    )
