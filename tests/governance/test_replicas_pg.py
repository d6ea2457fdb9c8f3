"""Two planes on one PostgreSQL: a change committed on one is heard by the other at once."""

from __future__ import annotations

import os
import time

import pytest
from fastapi.testclient import TestClient

from controlplane.adapters.workload.fake import FakeWorkloadBackend
from controlplane.app import create_app
from controlplane.clock import ManualClock
from controlplane.config import Settings

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not os.environ.get("CONTROLPLANE_TEST_DATABASE_URL"), reason="needs PostgreSQL"
    ),
]


def test_an_incident_opened_on_one_replica_escalates_the_other_before_its_cache_expires(
    settings: Settings, clock: ManualClock
) -> None:
    slow = settings.model_copy(update={"signal_local_ttl_s": 60})  # B would cache for a minute
    a = create_app(slow, clock=clock, workloads=FakeWorkloadBackend())
    b = create_app(slow, clock=clock, workloads=FakeWorkloadBackend())
    body = {"operation": "deploy", "environment": "dev", "service": "bankchurn"}
    try:
        with TestClient(a) as ca, TestClient(b) as cb:
            admin = {"Authorization": f"Bearer {a.state.ctx.admin_token}"}
            assert cb.post("/v1/decisions", json=body, headers=admin).json()["final_mode"] == "AUTO"
            p1 = {"severity": "P1", "title": "5xx", "service": "bankchurn", "environment": "dev"}
            assert ca.post("/v1/incidents", json=p1, headers=admin).status_code == 201
            deadline = time.monotonic() + 5  # a NOTIFY arrives in milliseconds; the TTL is 60 s
            while cb.post("/v1/decisions", json=body, headers=admin).json()["final_mode"] != (
                "CONSULT"
            ):
                assert time.monotonic() < deadline, "replica B still serves the old reading"
                time.sleep(0.02)
    finally:
        a.state.ctx.close()
        b.state.ctx.close()
