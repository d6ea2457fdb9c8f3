"""Pure risk-signal vocabulary and rules: readings, states and the off-hours clock."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SIGNAL_NAMES: tuple[str, ...] = (
    "incident_active",
    "drift_severe",
    "error_budget_exhausted",
    "off_hours",
    "recent_rollback",
)


class SignalState(enum.StrEnum):
    """A signal's state; `unknown` counts as active (fail-closed), `disabled` never escalates."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    UNKNOWN = "unknown"
    DISABLED = "disabled"

    @property
    def escalates(self) -> bool:
        """True when this state must raise the mode."""
        return self in (SignalState.ACTIVE, SignalState.UNKNOWN)


@dataclass(frozen=True, slots=True)
class SignalReading:
    """One observation of one signal, with where it came from."""

    name: str
    state: SignalState
    source: str
    observed_at: datetime | None
    evidence: Mapping[str, Any] = field(default_factory=dict)


DEFAULT_ON_HOURS = (8, 18)
_WINDOW = re.compile(r"^\s*(\d{1,2})\s*-\s*(\d{1,2})\s*$")


def parse_on_hours(text: str) -> tuple[int, int]:
    """Parse an `HH-HH` UTC on-hours window; reject malformed, reversed, empty or 24 h windows."""
    match = _WINDOW.match(text or "")
    if not match:
        raise ValueError(f"on-hours window {text!r} is not of the form HH-HH (e.g. 08-18)")
    start, end = int(match.group(1)), int(match.group(2))
    if not (0 <= start <= 24 and 0 <= end <= 24):
        raise ValueError(f"on-hours window {text!r} has an hour outside 0-24")
    if start >= end:
        raise ValueError(f"on-hours window {text!r} is empty or reversed (start must be < end)")
    if end - start >= 24:
        raise ValueError(f"on-hours window {text!r} spans 24 h and would never be off-hours")
    return start, end


def is_off_hours(now: datetime, on_hours: tuple[int, int] = DEFAULT_ON_HOURS) -> bool:
    """Weekends are always off-hours; weekdays outside [start, end) UTC are off-hours."""
    if now.weekday() >= 5:
        return True
    start, end = on_hours
    return not (start <= now.hour < end)
