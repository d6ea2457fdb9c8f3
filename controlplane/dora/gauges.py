"""`dora_*` gauges on the plane's /metrics, computed at scrape time and kept for `ttl_s`.

A scrape every 15 s would otherwise run the DORA queries four times a minute; the keys move
by the deployment, so a minute-old answer is as good. Nothing is computed per API request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.clock import Clock
from controlplane.dora import bands
from controlplane.dora import service as dora
from controlplane.dora.models import WINDOWS, DoraKeys, DoraReport
from controlplane.dora.wiring import DoraParts

log = logging.getLogger(__name__)
KEYS = {  # field of DoraKeys -> gauge name
    "deployment_frequency": "dora_deployment_frequency_per_day",
    "deployment_days_per_week": "dora_deployment_days_per_week",
    "lead_time": "dora_lead_time_seconds",
    "change_failure_rate": "dora_change_failure_rate",
    "recovery_time": "dora_recovery_time_seconds",
    "rework_rate": "dora_rework_rate",
    "model_lead_time": "dora_model_lead_time_seconds",
}
LABELS = ["window_days", "service", "requester"]


class DoraCollector(Collector):
    """Every key by window, overall ("all"), per service and per requester kind."""

    def __init__(
        self, *, engine: Engine, clock: Clock, parts: Callable[[], DoraParts], ttl_s: float = 60
    ) -> None:
        self.engine, self.clock, self.parts, self.ttl_s = engine, clock, parts, ttl_s
        self._lock = threading.Lock()
        self._at = -float("inf")
        self._reports: list[DoraReport] = []
        self.computed = 0  # how many times the queries ran (tests read it)

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: registering must not query the database."""
        return []

    def reports(self) -> list[DoraReport]:
        """The reports of every window, recomputed at most once per `ttl_s`."""
        with self._lock:
            if time.monotonic() - self._at >= self.ttl_s:
                parts = self.parts()
                with Session(self.engine) as session:
                    self._reports = [
                        dora.report(
                            session=session,
                            clock=self.clock,
                            window_days=w,
                            service=None,
                            table=bands.load(),
                            commits=parts.commits,
                            training=parts.training,
                        )
                        for w in WINDOWS
                    ]
                self._at = time.monotonic()
                self.computed += 1
            return self._reports

    def collect(self) -> Iterable[Metric]:
        """The gauges; `dora_up` 0 (and nothing else) when the database could not be read."""
        up = GaugeMetricFamily("dora_up", "1 when the DORA gauges could be computed")
        try:
            reports = self.reports()
        except Exception as exc:  # a scrape must answer; the error is in the log
            log.warning("dora gauges not computed: %s", exc.__class__.__name__)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *_families(reports)]


def _slices(report: DoraReport) -> Iterator[tuple[list[str], DoraKeys]]:
    window = str(report.window_days)
    yield [window, "all", "all"], report.overall
    for name, keys in report.by_service.items():
        yield [window, name, "all"], keys
    for name, keys in report.by_requester.items():
        yield [window, "all", name], keys


def _families(reports: list[DoraReport]) -> list[Metric]:
    families = {
        key: GaugeMetricFamily(name, f"DORA {key.replace('_', ' ')} (raw value)", labels=LABELS)
        for key, name in KEYS.items()
    }
    band = GaugeMetricFamily(
        "dora_band", "1 for the band each key is in (2023 table)", labels=[*LABELS, "key", "band"]
    )
    left = GaugeMetricFamily(
        "dora_left_out",
        "What a key could not measure, by reason",
        labels=[*LABELS, "key", "reason"],
    )
    for report in reports:
        for labels, keys in _slices(report):
            for key in KEYS:
                value = getattr(keys, key)
                if value.value is not None:
                    families[key].add_metric(labels, value.value)
                if value.band is not None:
                    band.add_metric([*labels, key, value.band], 1)
                for reason, count in value.left_out.items():
                    left.add_metric([*labels, key, reason], count)
    return [*families.values(), band, left]
