"""Pure risk-signal vocabulary and rules: readings, states and the off-hours clock."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class SignalName(enum.StrEnum):
    """The five risk signals (DESIGN §3)."""

    INCIDENT_ACTIVE = "incident_active"
    DRIFT_SEVERE = "drift_severe"
    ERROR_BUDGET_EXHAUSTED = "error_budget_exhausted"
    OFF_HOURS = "off_hours"
    RECENT_ROLLBACK = "recent_rollback"


SIGNAL_NAMES: tuple[str, ...] = tuple(name.value for name in SignalName)


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


OVERRIDE_SOURCE = "override"
SUPPRESSION_SOURCE = "suppression"


@dataclass(frozen=True, slots=True)
class OverrideFact:
    """A live manual statement about a signal: a raise (`active`) or an approved suppression."""

    id: str
    name: str
    state: SignalState
    service: str | None
    environment: str | None  # None: every environment
    reason: str
    set_by: str
    created_at: datetime
    expires_at: datetime
    approved_by: tuple[str, ...] = ()

    @property
    def raises(self) -> bool:
        """True for the safe direction (an operator's call); False for a suppression."""
        return self.state.escalates

    def applies_to(self, environment: str | None) -> bool:
        """Whether it speaks for an environment (None: a view of every environment at once).

        A raise anywhere shows in the all-environments view (strict); a suppression only
        lowers a view it covers whole.
        """
        if self.environment is None or self.environment == environment:
            return True
        return environment is None and self.raises

    def evidence(self) -> dict[str, Any]:
        """What a decision shows about it."""
        key = "override_id" if self.raises else "suppression_id"
        shown: dict[str, Any] = {
            key: self.id,
            "reason": self.reason,
            "set_by": self.set_by,
            "until": self.expires_at.isoformat(),
            "scope": f"{self.service or 'all services'} / {self.environment or 'all environments'}",
        }
        if not self.raises:
            shown["approved_by"] = list(self.approved_by)
        return shown


def _real(reading: SignalReading) -> dict[str, Any]:
    return {
        "state": reading.state.value,
        "source": reading.source,
        "observed_at": reading.observed_at.isoformat() if reading.observed_at else None,
        "evidence": dict(reading.evidence),
    }


def effective(real: SignalReading, overrides: Sequence[OverrideFact]) -> SignalReading:
    """The reading decisions see: a raise wins; an approved suppression lowers an escalating
    real reading; either way the real reading is shown next to it (oldest first in `overrides`).
    """
    raises = [o for o in overrides if o.raises]
    if raises:
        o = raises[-1]
        evidence = {**o.evidence(), "real": _real(real)}
        return SignalReading(real.name, SignalState.ACTIVE, OVERRIDE_SOURCE, o.created_at, evidence)
    if not overrides:
        return real
    o = overrides[-1]
    if real.state.escalates:
        evidence = {**o.evidence(), "real": _real(real)}
        return SignalReading(
            real.name, SignalState.INACTIVE, SUPPRESSION_SOURCE, o.created_at, evidence
        )
    shown = {**real.evidence, "suppression": o.evidence()}
    return SignalReading(real.name, real.state, real.source, real.observed_at, shown)
