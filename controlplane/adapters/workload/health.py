"""Post-rollout health verification: /ready plus the error rate from the service's /metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

# Our own probes hit these; counting them would dilute the error rate with guaranteed successes.
PROBE_ENDPOINTS = frozenset({"/ready", "/health", "/metrics"})


@dataclass(frozen=True)
class HealthResult:
    """Verdict with the numbers behind it, so a failed deployment says exactly why."""

    ok: bool
    ready: bool
    error_rate: float
    requests: float
    errors: float
    window_s: float
    max_error_rate: float
    url: str
    reason: str = ""
    by_status: dict[str, float] = field(default_factory=dict)


Counts = dict[tuple[str, str], float]


def request_counts(text: str, service: str | None = None) -> Counts:
    """`<service>_requests_total` by (endpoint, status) from a Prometheus exposition."""
    counts: Counts = {}
    for family in text_string_to_metric_families(text):
        if not family.name.endswith("_requests") or family.type != "counter":
            continue
        if service is not None and family.name != f"{service}_requests":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and {"endpoint", "status"} <= sample.labels.keys():
                key = (sample.labels["endpoint"], sample.labels["status"])
                counts[key] = counts.get(key, 0.0) + sample.value
    return counts


def window_delta(before: Counts, after: Counts) -> Counts:
    """Per-series increase; a series that went down was reset, so its new value is the increase."""
    delta: Counts = {}
    for key, value in after.items():
        old = before.get(key, 0.0)
        delta[key] = value - old if value >= old else value
    return delta


def verify_health(
    base_url: str,
    window_s: float,
    max_error_rate: float,
    *,
    service: str | None = None,
    min_requests: int = 0,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> HealthResult:
    """Fail when /ready is not 200 or 5xx responses over the window exceed `max_error_rate`."""
    url = base_url.rstrip("/")
    http = client or httpx.Client(timeout=5.0)
    verdict = _Verdict(url, window_s, max_error_rate)
    try:
        before = request_counts(_get(http, url + "/metrics"), service)
        sleep(window_s)
        ready = http.get(url + "/ready").status_code == 200
        after = request_counts(_get(http, url + "/metrics"), service)
    except (httpx.HTTPError, ValueError) as exc:
        return verdict.result(False, {}, f"{url} did not answer: {exc.__class__.__name__}: {exc}")
    finally:
        if client is None:
            http.close()
    if not after:
        missing = f"{url}/metrics has no <service>_requests_total series"
        return verdict.result(ready, {}, missing if ready else f"/ready is not 200; {missing}")
    return verdict.judge(ready, window_delta(before, after), min_requests)


@dataclass(frozen=True)
class _Verdict:
    url: str
    window_s: float
    max_error_rate: float

    def judge(self, ready: bool, delta: Counts, min_requests: int) -> HealthResult:
        served = {key: n for key, n in delta.items() if key[0] not in PROBE_ENDPOINTS}
        by_status: dict[str, float] = {}
        for (_, status), n in served.items():
            by_status[status] = by_status.get(status, 0.0) + n
        total = sum(by_status.values())
        errors = sum(n for status, n in by_status.items() if status.startswith("5"))
        rate = errors / total if total else 0.0
        reasons = []
        if not ready:
            reasons.append("/ready is not 200")
        if rate > self.max_error_rate:
            reasons.append(
                f"error rate {rate:.2%} ({errors:g}/{total:g}) over {self.window_s:g}s "
                f"is above {self.max_error_rate:.2%}"
            )
        if total < min_requests:
            reasons.append(f"only {total:g} requests in the window; need {min_requests}")
        ok = not reasons
        return HealthResult(
            ok, ready, rate, total, errors, self.window_s, self.max_error_rate, self.url,
            "; ".join(reasons), by_status,
        )  # fmt: skip

    def result(self, ready: bool, by_status: dict[str, float], reason: str) -> HealthResult:
        return HealthResult(
            False, ready, 0.0, 0.0, 0.0, self.window_s, self.max_error_rate, self.url, reason,
            by_status,
        )  # fmt: skip


def _get(http: httpx.Client, url: str) -> str:
    response = http.get(url)
    response.raise_for_status()
    return response.text
