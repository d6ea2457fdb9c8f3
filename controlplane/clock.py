"""Time as a dependency, so tests can move it (soak times, TTLs, off-hours)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Protocol

from pydantic import AwareDatetime, BeforeValidator


def _not_a_number(value: Any) -> Any:
    """Refuse epoch numbers, which pydantic would read as times: the schema says ISO 8601."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(value, str):
        try:
            float(value)
            number = True
        except ValueError:
            pass
    if number:
        raise ValueError("expected an ISO 8601 time, e.g. 2026-03-04T10:00:00Z")
    return value


# Times on the wire are ISO 8601 strings, as the OpenAPI schema says (`format: date-time`).
IsoTime = Annotated[datetime, BeforeValidator(_not_a_number)]
AwareIsoTime = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]


class Clock(Protocol):
    """Anything that tells the current UTC time."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real wall clock, in UTC."""

    def now(self) -> datetime:
        """Current UTC time."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (tests, demos)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The frozen time."""
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        """Move time forward."""
        with self._lock:
            self._now += delta


def iso(ts: datetime) -> str:
    """The one timestamp format the audit chain hashes: fixed width, UTC, +00:00."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
