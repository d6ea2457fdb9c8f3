"""`GET /v1/dora` (roles, 422s naming the field) and the dora_* gauges on /metrics."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from controlplane.clock import ManualClock
from controlplane.dora.gauges import DoraCollector
from controlplane.dora.wiring import dora_parts
from tests.conftest import TokenFactory

from .conftest import Add, deployment, incident


def gauge(text: str, name: str, **labels: str) -> float | None:
    """One sample's value from a Prometheus text page."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if not labels and line.startswith(f"{name} "):
            return float(line.split()[1])
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and ",".join(sorted(match.group(1).split(","))) == want:
            return float(match.group(2))
    return None


def test_a_viewer_reads_dora_and_an_anonymous_caller_cannot(
    app: FastAPI, client: TestClient, token_for: TokenFactory, add: Add, clock: ManualClock
) -> None:
    now = clock.now()
    (bad,) = add(deployment(now - timedelta(days=1), requester="agent"))
    add(deployment(now - timedelta(days=2), requester="human"),
        incident(now - timedelta(hours=20), deployment_id=bad.id))  # fmt: skip
    viewer = token_for(roles=("viewer",))
    response = client.get("/v1/dora", params={"window": 7}, headers=viewer)
    assert response.status_code == 200, response.text
    body = response.json()
    cfr = body["overall"]["change_failure_rate"]
    assert (cfr["numerator"], cfr["denominator"], cfr["value"]) == (1, 2, 0.5)
    assert body["by_requester"]["agent"]["change_failure_rate"]["value"] == 1.0
    assert body["bands"] == "2023" and body["window_days"] == 7
    assert client.get("/v1/dora").status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"window": 5}, "window"),
        ({"window": "month"}, "query.window"),
        ({"service": "payments"}, "service"),
        ({"bands": "2025"}, "bands"),
    ],
)
def test_bad_parameters_are_422s_naming_the_field(
    client: TestClient, admin_headers: dict[str, str], params: dict[str, object], field: str
) -> None:
    response = client.get("/v1/dora", params=params, headers=admin_headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["message"].startswith(f"{field}:")
    fields = [e["field"] for e in error["details"].get("errors", [])] or [error["details"]["field"]]
    assert fields == [field]


def test_gauges_on_metrics_are_cached_between_scrapes(
    app: FastAPI, client: TestClient, add: Add, clock: ManualClock
) -> None:
    now = clock.now()
    add(*(deployment(now - timedelta(days=d)) for d in (1, 2, 3)))
    add(deployment(now - timedelta(days=1), status="failed"))
    first = client.get("/metrics").text
    assert gauge(first, "dora_up") == 1
    labels = {"window_days": "30", "service": "all", "requester": "all"}
    assert gauge(first, "dora_change_failure_rate", **labels) == 0.25
    assert gauge(first, "dora_deployment_frequency_per_day", **labels) == pytest.approx(3 / 30)
    assert gauge(first, "dora_band", **labels, key="change_failure_rate", band="medium") == 1
    assert gauge(first, "dora_left_out", **labels, key="lead_time", reason="no_commit_time") == 3
    assert gauge(first, "dora_change_failure_rate", **{**labels, "service": "bankchurn"}) == 0.25
    add(deployment(now - timedelta(hours=1), status="failed"))
    again = client.get("/metrics").text  # within the minute: the same numbers, no new queries
    assert gauge(again, "dora_change_failure_rate", **labels) == 0.25


def test_the_collector_recomputes_after_its_ttl(
    engine: object, settings: object, clock: ManualClock, add: Add
) -> None:
    collector = DoraCollector(
        engine=engine, clock=clock, parts=lambda: dora_parts(settings, None), ttl_s=0
    )  # type: ignore[arg-type]
    add(deployment(clock.now() - timedelta(days=1)))
    assert collector.reports()[1].overall.deployment_frequency.numerator == 1
    add(deployment(clock.now() - timedelta(days=2)))
    assert collector.reports()[1].overall.deployment_frequency.numerator == 2
    assert collector.computed == 2


def test_an_unreadable_database_is_dora_up_zero_not_a_failed_scrape(
    tmp_path: object, settings: object, clock: ManualClock
) -> None:
    empty = create_engine(f"sqlite:///{tmp_path}/empty.db")  # no tables at all
    made = dora_parts(settings, None)  # type: ignore[arg-type]
    collector = DoraCollector(engine=empty, clock=clock, parts=lambda: made)  # type: ignore[arg-type]
    families = list(collector.collect())
    assert [f.name for f in families] == ["dora_up"]
    assert families[0].samples[0].value == 0
