"""Cached signal readings: typed entries per scope, a generation against stale stores.

Real readings are kept per (signal, scope) with their own TTL (Prometheus longer than the
database); live overrides per scope. A local change (incident, override, drift report) bumps the
generation after it commits, and a refresh that started before the change may not store what it
read (else a pre-incident reading could be served for a whole TTL).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from controlplane.risk.readers import Scope
from controlplane.risk.signals import SIGNAL_NAMES, OverrideFact, SignalReading, effective

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Timed(Generic[T]):
    """A cached value and the monotonic time it expires."""

    value: T
    expires: float

    def fresh(self, now: float) -> bool:
        """Still usable at `now` (never served past its TTL)."""
        return self.expires > now


class SignalCache:
    """Readings and overrides per scope, thread-safe, invalidated by generation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._real: dict[tuple[str, Scope], Timed[SignalReading]] = {}
        self._overrides: dict[Scope, Timed[tuple[OverrideFact, ...]]] = {}
        self.generation = 0

    def invalidate(self) -> None:
        """Forget everything; refreshes already running may not store what they read."""
        with self._lock:
            self._real.clear()
            self._overrides.clear()
            self.generation += 1

    def real(self, name: str, scope: Scope) -> SignalReading | None:
        """A fresh real reading, if cached."""
        with self._lock:
            hit = self._real.get((name, scope))
        return hit.value if hit is not None and hit.fresh(time.monotonic()) else None

    def overrides(self, scope: Scope) -> tuple[OverrideFact, ...] | None:
        """Fresh live overrides of a scope, if cached."""
        with self._lock:
            hit = self._overrides.get(scope)
        return hit.value if hit is not None and hit.fresh(time.monotonic()) else None

    def store_real(
        self, name: str, scope: Scope, reading: SignalReading, ttl: float, gen: int
    ) -> None:
        """Keep a reading for `ttl` seconds unless a local change came after it was read."""
        with self._lock:
            if gen == self.generation:
                self._real[(name, scope)] = Timed(reading, time.monotonic() + ttl)

    def store_overrides(
        self, scope: Scope, found: Sequence[OverrideFact], ttl: float, gen: int
    ) -> None:
        """Keep a scope's live overrides for `ttl` seconds (same generation rule)."""
        with self._lock:
            if gen == self.generation:
                self._overrides[scope] = Timed(tuple(found), time.monotonic() + ttl)

    def snapshot(self, scope: Scope) -> tuple[list[SignalReading] | None, float]:
        """Every effective reading of a scope if all are fresh, and when the first expires."""
        now = time.monotonic()
        with self._lock:
            overrides = self._overrides.get(scope)
            if overrides is None or not overrides.fresh(now):
                return None, now
            expires, found = overrides.expires, []
            for name in SIGNAL_NAMES:
                hit = self._real.get((name, scope))
                if hit is None or not hit.fresh(now):
                    return None, now
                expires = min(expires, hit.expires)
                found.append(hit.value)
        return combine(found, overrides.value), expires


def combine(
    real: Sequence[SignalReading], overrides: Sequence[OverrideFact]
) -> list[SignalReading]:
    """The effective readings: each real one with the overrides of its own signal applied."""
    if not overrides:
        return list(real)
    return [effective(r, [o for o in overrides if o.name == r.name]) for r in real]
