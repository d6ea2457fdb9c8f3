"""Helpers for the live end-to-end test: faster timings for the product's rules, traffic, polling.

`quicken` rewrites the prometheus.yml that `MonitoringStack` rendered (same targets, same
Alertmanager, same rule expressions) with a 1 s scrape and evaluation interval and copies of
`ops/prometheus/rules/*.yml` in which only the named alerts' `for:` is shorter, then has
Prometheus reload it. `Traffic` is a client of a service's stable address that either overloads
it (concurrent requests against a queue of one: the service sheds them with 503) or sends one
request at a time (nothing is shed).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

from controlplane.monitoring import files
from controlplane.monitoring.stack import MonitoringStack

T = TypeVar("T")
CUSTOMER = {
    "CreditScore": 600, "Geography": "France", "Gender": "Male", "Age": 40, "Tenure": 3,
    "Balance": 60000.0, "NumOfProducts": 2, "HasCrCard": 1, "IsActiveMember": 1,
    "EstimatedSalary": 50000.0,
}  # fmt: skip


def eventually(
    read: Callable[[], T | None], *, timeout_s: float, what: str, every_s: float = 0.2
) -> T:
    """`read()` once it returns something truthy; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = read()
        if last:
            return last
        time.sleep(every_s)
    raise AssertionError(f"{what}: not within {timeout_s:g} s (last: {last!r})")


def quicken(stack: MonitoringStack, rules_out: Path, fors: Mapping[str, str]) -> dict[str, Any]:
    """Reload Prometheus with 1 s intervals and shorter `for:` on the alerts in `fors`."""
    rules_out.mkdir(parents=True, exist_ok=True)
    changed = set()
    for source in sorted(files.RULES_DIR.glob("*.yml")):
        document = yaml.safe_load(source.read_text())
        for group in document["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") in fors:
                    rule["for"] = fors[rule["alert"]]
                    changed.add(rule["alert"])
        (rules_out / source.name).write_text(yaml.safe_dump(document, sort_keys=False))
    assert changed == set(fors), f"no such alert in ops/prometheus/rules: {set(fors) - changed}"
    path = stack.out / files.PROMETHEUS_FILE
    config = yaml.safe_load(path.read_text())
    config["global"] |= {
        "scrape_interval": "1s",
        "scrape_timeout": "1s",
        "evaluation_interval": "1s",
    }
    config["rule_files"] = [str(rules_out / "*.yml")]
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    response = httpx.post(f"{stack.prometheus_url}/-/reload", timeout=10)
    assert response.status_code == 200, response.text
    return dict(config)


def prom_query(url: str, promql: str) -> list[dict[str, Any]]:
    """An instant query's result vector."""
    response = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5)
    response.raise_for_status()
    return list(response.json()["data"]["result"])


def prom_alerts(url: str, name: str, **labels: str) -> list[dict[str, Any]]:
    """Prometheus's own alerts called `name` with these labels (pending or firing)."""
    found = httpx.get(f"{url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    return [
        a
        for a in found
        if a["labels"].get("alertname") == name
        and all(a["labels"].get(k) == v for k, v in labels.items())
    ]


class Traffic:
    """Requests to a service's /predict from a thread: `overload` (bursts) or one at a time."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: Counter[int] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def one_at_a_time(self, count: int) -> Counter[int]:
        """Send `count` requests in sequence (never two in flight: nothing is shed)."""
        seen: Counter[int] = Counter()
        with httpx.Client(base_url=self.url, timeout=10) as client:
            for _ in range(count):
                seen[client.post("/predict", json=CUSTOMER).status_code] += 1
        self.statuses.update(seen)
        return seen

    def overload(self, *, burst: int = 3, every_s: float = 0.5) -> None:
        """Until `stop()`: every `every_s`, `burst` requests at once (the queue takes one)."""

        async def run() -> None:
            async with httpx.AsyncClient(base_url=self.url, timeout=10) as client:
                while not self._stop.is_set():
                    started = time.monotonic()
                    sent = [client.post("/predict", json=CUSTOMER) for _ in range(burst)]
                    for response in await asyncio.gather(*sent):
                        self.statuses[response.status_code] += 1
                    await asyncio.sleep(max(0.0, every_s - (time.monotonic() - started)))

        self._stop.clear()
        self._thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the overload and wait for its last burst."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
