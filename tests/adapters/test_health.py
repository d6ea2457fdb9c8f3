"""Health verification: /ready plus the 5xx rate from a real service's Prometheus /metrics."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from controlplane.adapters.base import Release
from controlplane.adapters.workload import local_process
from controlplane.adapters.workload.health import request_counts, verify_health, window_delta
from controlplane.adapters.workload.local import LocalBackend
from controlplane.adapters.workload.local_state import os_port
from tests.adapters.conftest import TARGET

CUSTOMER = {
    "CreditScore": 620, "Geography": "France", "Gender": "Male", "Age": 31, "Tenure": 5,
    "Balance": 0.0, "NumOfProducts": 2, "HasCrCard": 1, "IsActiveMember": 1,
    "EstimatedSalary": 60000.0,
}  # fmt: skip

EXPOSITION = """# HELP bankchurn_requests_total HTTP requests by endpoint and status
# TYPE bankchurn_requests_total counter
bankchurn_requests_total{endpoint="/predict",status="200"} 90.0
bankchurn_requests_total{endpoint="/predict",status="503"} 10.0
bankchurn_requests_total{endpoint="/ready",status="200"} 7.0
bankchurn_requests_created{endpoint="/predict",status="200"} 1.7e9
# TYPE other_requests_total counter
other_requests_total{endpoint="/x",status="500"} 5.0
"""


def _traffic(url: str, n: int) -> None:
    """Send a bounded burst of predictions to a loopback service."""
    with httpx.Client(base_url=url, timeout=10) as client:
        for _ in range(n):
            client.post("/predict", json=CUSTOMER)


def test_request_counts_reads_the_service_counter_by_endpoint_and_status() -> None:
    """Only `<service>_requests_total` samples count; `_created` samples are ignored."""
    counts = request_counts(EXPOSITION, "bankchurn")
    assert counts == {("/predict", "200"): 90.0, ("/predict", "503"): 10.0, ("/ready", "200"): 7.0}


def test_window_delta_treats_a_drop_as_a_counter_reset() -> None:
    """A restarted process starts its counters at 0: its new value is the increase."""
    before = {("/predict", "200"): 100.0, ("/predict", "500"): 4.0}
    after = {("/predict", "200"): 3.0, ("/predict", "500"): 6.0, ("/x", "200"): 1.0}
    assert window_delta(before, after) == {
        ("/predict", "200"): 3.0, ("/predict", "500"): 2.0, ("/x", "200"): 1.0,
    }  # fmt: skip


def test_unreachable_service_fails_verification_with_a_reason() -> None:
    """Nothing listening is a failed check (not an exception)."""
    result = verify_health("http://127.0.0.1:9", window_s=0, max_error_rate=0.05)
    assert not result.ok and not result.ready and "did not answer" in result.reason


@pytest.mark.slow
def test_healthy_real_service_passes_with_its_numbers(
    make_local: Callable[..., LocalBackend], releases: dict[str, Release]
) -> None:
    """Ready and 0 errors among real predictions in the window: ok, with the counts."""
    backend = make_local()
    url = str(backend.deploy(TARGET, releases["v1"]).url)
    result = verify_health(
        url, window_s=0.5, max_error_rate=0.05, sleep=lambda s: _traffic(url, 20), min_requests=1
    )
    assert result.ok, result.reason
    assert result.ready and result.requests == 20 and result.errors == 0
    assert result.by_status == {"200": 20.0} and result.error_rate == 0.0


@pytest.mark.slow
def test_real_service_returning_5xx_fails_on_error_rate(
    make_local: Callable[..., LocalBackend], releases: dict[str, Release]
) -> None:
    """A ready process that rejects every prediction (queue size 0 -> 503) fails the check."""

    def overloaded(target: object, release: Release, port: int) -> list[str]:
        return [*backend.service_command(TARGET, release, port), "--max-pending", "0"]

    backend = make_local(command=overloaded)
    url = str(backend.deploy(TARGET, releases["v1"]).url)
    result = verify_health(
        url, window_s=0.5, max_error_rate=0.05, sleep=lambda s: _traffic(url, 10)
    )
    assert not result.ok and result.ready
    assert result.errors == 10 and result.error_rate == 1.0
    assert "error rate 100.00% (10/10)" in result.reason


@pytest.mark.slow
def test_real_service_that_is_not_ready_fails(
    make_local: Callable[..., LocalBackend], releases: dict[str, Release]
) -> None:
    """A process serving a tampered model answers /metrics but not /ready: the check fails."""
    backend = make_local()
    port = os_port()
    argv = backend.service_command(TARGET, releases["broken"], port)
    child = local_process.spawn(argv, backend.directory / "logs" / "probe.log")
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not local_process.probe(url, "/health") and time.monotonic() < deadline:
            time.sleep(0.1)
        health = verify_health(url, window_s=0.1, max_error_rate=0.05)
        assert not health.ok and not health.ready and "/ready is not 200" in health.reason
    finally:
        local_process.stop(child.pid, grace_s=5)
        child.wait(5)
