"""Refused state-changing calls are recorded: who tried what, and why not (bounded per caller).

Anonymous refusals (401) are counted in a metric only; an authenticated caller's refusals (403,
404, 409, 422...) each write an audit record with `result: refused`, at most N per caller per
minute, the rest counted, so a caller cannot flood the log.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from starlette.requests import Request

from controlplane.audit.recorder import Recorder
from controlplane.errors import ControlPlaneError
from controlplane.metrics import PlaneMetrics

log = logging.getLogger(__name__)
READS = frozenset({"GET", "HEAD", "OPTIONS"})


class RefusalLog:
    """Writes refusal records through the recorder, rate-limited per principal."""

    def __init__(self, *, audit: Recorder, metrics: PlaneMetrics, per_minute: int) -> None:
        self._audit = audit
        self._metrics = metrics
        self._per_minute = per_minute
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    async def refused(self, request: Request, error: ControlPlaneError) -> None:
        """Record (or count) one refused call; never raises (the refusal is answered anyway)."""
        if request.method in READS or error.status >= 500:
            return
        if error.status == 401:
            self._metrics.unauthenticated.inc()
            return
        principal = getattr(request.state, "principal", None)
        if principal is None or not self._allow(principal.name):
            self._metrics.refusals.labels(error.code, "no").inc()
            return
        try:
            await self._audit.record_alone_async(principal, **_fields(request, error))
        except ControlPlaneError as exc:  # the log is down: the refusal stands, say so
            log.error("refusal of %s not recorded: %s", principal.name, exc.message)
            self._metrics.refusals.labels(error.code, "no").inc()
            return
        self._metrics.refusals.labels(error.code, "yes").inc()

    def _allow(self, name: str) -> bool:
        now = time.monotonic()
        with self._lock:
            start, count = self._windows.get(name, (now, 0))
            if now - start >= 60:
                start, count = now, 0
            if count >= self._per_minute:
                self._windows[name] = (start, count)
                return False
            self._windows[name] = (start, count + 1)
            if len(self._windows) > 10_000:
                self._windows = {name: (start, count + 1)}
            return True


def _fields(request: Request, error: ControlPlaneError) -> dict[str, Any]:
    route = getattr(request.scope.get("route"), "path", request.url.path)
    operation = str(error.details.get("operation") or f"{request.method} {route}")
    return {
        "operation": operation[:128],
        "result": "refused",
        "inputs": {"method": request.method, "path": request.url.path},
        "outputs": {"status": error.status, "code": error.code, "reason": error.message},
    }
