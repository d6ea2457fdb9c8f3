"""error_budget_exhausted reads a real Prometheus; unreachable means unknown, which escalates."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from controlplane.adapters.fakes import FakeMetrics
from controlplane.adapters.prometheus import PrometheusSource
from controlplane.adapters.workload.fake import FakeWorkloadBackend
from controlplane.app import create_app
from controlplane.clock import ManualClock
from controlplane.config import Settings


def _plane(
    settings: Settings, clock: ManualClock, url: str | None
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    source = PrometheusSource(httpx.Client(timeout=2.0), url) if url else FakeMetrics(down=True)
    app: FastAPI = create_app(
        settings, clock=clock, metrics_source=source, workloads=FakeWorkloadBackend()
    )
    with TestClient(app) as client:
        yield client, {"Authorization": f"Bearer {app.state.ctx.admin_token}"}
    app.state.ctx.close()


@pytest.fixture
def with_prometheus(settings: Settings, clock: ManualClock, prometheus_url: str):
    yield from _plane(settings, clock, prometheus_url)


def _signal(client: TestClient, headers: dict[str, str], service: str) -> dict:
    data = client.get(f"/v1/signals?service={service}", headers=headers).json()["data"]
    return next(s for s in data if s["name"] == "error_budget_exhausted")


def test_spent_budget_is_active_and_escalates(with_prometheus) -> None:
    client, headers = with_prometheus
    signal = _signal(client, headers, "bankchurn")
    assert signal["state"] == "active" and signal["source"] == "prometheus"
    d = client.post(
        "/v1/decisions",
        json={"operation": "deploy", "environment": "dev", "service": "bankchurn"},
        headers=headers,
    ).json()
    assert d["final_mode"] == "CONSULT"


def test_a_budget_spent_in_dev_does_not_escalate_production(with_prometheus) -> None:
    client, headers = with_prometheus
    d = client.post(
        "/v1/decisions",
        json={"operation": "rollback.plan", "environment": "production", "service": "bankchurn"},
        headers=headers,
    ).json()
    budget = next(s for s in d["signals"] if s["name"] == "error_budget_exhausted")
    assert budget["state"] == "inactive", budget


def test_healthy_budget_is_inactive(with_prometheus) -> None:
    client, headers = with_prometheus
    assert _signal(client, headers, "nlpinsight")["state"] == "inactive"


def test_unreachable_prometheus_is_unknown_and_counts_as_active(settings, clock) -> None:
    for client, headers in _plane(settings, clock, "http://127.0.0.1:9"):
        signal = _signal(client, headers, "bankchurn")
        assert signal["state"] == "unknown"
        assert "did not answer" in signal["evidence"]["error"]
        d = client.post(
            "/v1/decisions",
            json={"operation": "deploy", "environment": "dev", "service": "bankchurn"},
            headers=headers,
        ).json()
        assert d["final_mode"] == "CONSULT"
        assert any("unknown" in r for r in d["reasons"])


def test_bad_promql_is_unknown_not_inactive(prometheus_url: str) -> None:
    from controlplane.errors import AdapterUnavailable

    source = PrometheusSource(httpx.Client(timeout=2.0), prometheus_url)
    with pytest.raises(AdapterUnavailable):
        source.query("sum(")
