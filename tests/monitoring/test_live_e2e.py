"""Live monitoring end to end (issue 11): a service's errors become an incident that escalates a
deploy, and its recovery clears it, with every part real.

The plane is served over HTTP (uvicorn, SQLite file) on the local backend, which runs a real
bankchurn process from a trained artifact; `MonitoringStack` (what `opsctl up` starts) runs a
real Prometheus with the ops/ rules scraping that service and the plane, and a real Alertmanager
whose webhook receiver is the plane with the bearer token. The failures are real 5xx the SLO
counts: the release is served with one inference thread and a queue of one (`--threads 1
--max-pending 1`), so concurrent requests are shed with 503 "inference queue full"; 4xx answers
(a bad /predict payload) are good requests for the SLO and would never burn its budget.

Timings, so the test takes minutes and not hours: Prometheus scrapes and evaluates every second
(not 15 s), and SLOAvailabilityBurnRateCritical (P1) waits `for: 10s` instead of 2m. Its
expression, every other rule and the Alertmanager configuration (group_wait 10 s,
group_interval 1 m: the resolution reaches the plane within a minute) are the product's.

error_budget_exhausted is left unwired (no prometheus_url for the plane): in a Prometheus that
is minutes old, any burst spends the whole 30-day budget, which would keep the deploy at CONSULT
after the incident is resolved and hide what this test proves; the budget series itself is
checked in Prometheus. The silence step of the rollback playbook against a real Alertmanager is
tested in test_playbook_silence.py.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from factories import served, settled
from pydantic import SecretStr

from controlplane.adapters.base import Release, Target
from controlplane.adapters.workload.local import LocalBackend
from controlplane.app import create_app
from controlplane.config import Settings
from controlplane.monitoring.stack import MonitoringStack, free_port, missing_binaries
from controlplane.release.registry import ReleaseRegistry
from controlplane.risk.readers import budget_query
from tests.monitoring.live import Traffic, eventually, prom_alerts, prom_query, quicken

REPO = Path(__file__).resolve().parents[2]
ALERT = "SLOAvailabilityBurnRateCritical"
SCOPE = {"service": "bankchurn", "environment": "dev"}
pytestmark = [pytest.mark.monitoring, pytest.mark.slow]


def shedding(backend: LocalBackend) -> Any:
    """The backend's own service command, with a pool that sheds a second concurrent request."""

    def command(target: Target, release: Release, port: int) -> list[str]:
        return [*backend.service_command(target, release, port), "--threads", "1",
                "--max-pending", "1", "--log-level", "warning"]  # fmt: skip

    return command


@dataclass
class Live:
    """The running parts and how to reach them."""

    plane: httpx.Client
    stack: MonitoringStack
    service_url: str


@pytest.fixture
def live(settings: Settings, tmp_path: Path, trained: Path) -> Iterator[Live]:
    missing = missing_binaries()
    if missing:
        pytest.skip(
            f"{' and '.join(missing)} not installed (apt-get install {' '.join(missing)}; CI does)"
        )
    token = secrets.token_urlsafe(32)
    prom_port, am_port = free_port(), free_port()
    tuned = settings.model_copy(
        update={
            "alertmanager_token": SecretStr(token),
            "alertmanager_url": f"http://127.0.0.1:{am_port}",
            "signal_local_ttl_s": 2.0,  # the default; a commit invalidates it anyway
        }
    )
    backend = LocalBackend(tuned.state_dir, base_port=0, ready_timeout_s=30)
    backend.command = shedding(backend)
    ref = ReleaseRegistry(tuned.state_dir, repo_root=REPO).build("bankchurn", trained).ref
    app = create_app(tuned, workloads=backend)
    stack: MonitoringStack | None = None
    try:
        with served(app) as url, httpx.Client(base_url=url, timeout=10) as plane:
            plane.headers["Authorization"] = f"Bearer {app.state.ctx.admin_token}"
            r = plane.post("/v1/deployments", json={**SCOPE, "release": ref})
            assert r.status_code == 202, r.text
            assert settled(plane, {}, r.json())["status"] == "succeeded"
            [svc] = [s for s in plane.get("/v1/services").json()
                     if (s["service"], s["environment"]) == ("bankchurn", "dev")]  # fmt: skip
            stack = MonitoringStack(
                tuned.state_dir, plane_url=url, prometheus_port=prom_port,
                alertmanager_port=am_port, token=token,
            ).start()  # fmt: skip
            quicken(stack, tmp_path / "rules", {ALERT: "10s"})
            yield Live(plane, stack, svc["url"])
    finally:
        if stack is not None:
            stack.stop()
        backend.stop_all()
        app.state.ctx.close()


def decide_deploy(plane: httpx.Client) -> dict[str, Any]:
    r = plane.post("/v1/decisions", json={"operation": "deploy", **SCOPE})
    assert r.status_code == 200, r.text
    return dict(r.json())


def signal(plane: httpx.Client, name: str) -> dict[str, Any]:
    r = plane.get("/v1/signals", params=SCOPE)
    assert r.status_code == 200, r.text
    [found] = [s for s in r.json()["data"] if s["name"] == name]
    return dict(found)


def incidents(plane: httpx.Client, **query: str) -> list[dict[str, Any]]:
    r = plane.get("/v1/incidents", params={**SCOPE, **query})
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def webhook_calls(plane: httpx.Client) -> list[dict[str, Any]]:
    """What the plane recorded of each webhook call Alertmanager made (its audit outputs)."""
    params = {"operation": "incident.alert", "actor": "alertmanager"}
    r = plane.get("/v1/audit", params=params)
    assert r.status_code == 200, r.text
    return [line["outputs"] for line in r.json()["data"]]


def test_a_burning_service_opens_an_incident_that_escalates_deploys_until_it_recovers(
    live: Live,
) -> None:
    prom, plane, traffic = live.stack.prometheus_url, live.plane, Traffic(live.service_url)
    assert traffic.one_at_a_time(20) == {200: 20}  # the release serves; nothing is shed
    up = 'up{job="services",service="bankchurn",environment="dev"} == 1'
    eventually(lambda: prom_query(prom, up), timeout_s=30, what="Prometheus scrapes bankchurn/dev")
    eventually(lambda: prom_query(prom, 'up{job="controlplane"} == 1'), timeout_s=30,
               what="Prometheus scrapes the plane")  # fmt: skip
    before = decide_deploy(plane)
    assert before["final_mode"] == "AUTO", before["reasons"]
    assert signal(plane, "incident_active")["state"] == "inactive"

    traffic.overload()
    try:
        firing = eventually(
            lambda: [a for a in prom_alerts(prom, ALERT, **SCOPE) if a["state"] == "firing"],
            timeout_s=90, what=f"{ALERT} firing in Prometheus",
        )  # fmt: skip
        assert firing[0]["labels"]["severity"] == "P1"
        assert traffic.statuses[503] > 0, traffic.statuses  # real 5xx from the service itself
        # Alertmanager waits group_wait (10 s), then posts to the plane with the bearer token.
        [incident] = eventually(lambda: incidents(plane, status="open"), timeout_s=60,
                                what="an open incident for bankchurn/dev")  # fmt: skip
    finally:
        traffic.stop()
    assert (incident["severity"], incident["source"]) == ("P1", "alertmanager")
    detail = plane.get(f"/v1/incidents/{incident['id']}").json()
    assert [(a["alertname"], a["status"]) for a in detail["alerts"]] == [(ALERT, "firing")]
    assert [e["kind"] for e in detail["timeline"]][-1] == "alert_fired"
    assert incident["id"] in [i for line in webhook_calls(plane) for i in line["opened"]]

    active = signal(plane, "incident_active")
    assert active["state"] == "active"
    assert any(incident["id"] in line for line in active["evidence"]["open_p1_p2"])
    during = decide_deploy(plane)
    assert during["final_mode"] == "CONSULT", during["reasons"]
    assert any("incident_active is active" in reason for reason in during["reasons"])
    [view] = [s for s in during["signals"] if s["name"] == "incident_active"]
    assert view["counted"] and any(incident["id"] in x for x in view["evidence"]["open_p1_p2"])
    # The same 5xx spend the 30-day budget in Prometheus (what error_budget_exhausted reads).
    eventually(lambda: prom_query(prom, budget_query("bankchurn", "dev")), timeout_s=90,
               what="the bankchurn/dev error budget spent in Prometheus")  # fmt: skip

    def recovered() -> bool:
        assert traffic.one_at_a_time(200)[503] == 0  # one at a time: nothing is shed any more
        return not prom_alerts(prom, ALERT, **SCOPE)

    eventually(recovered, timeout_s=90, what=f"{ALERT} resolved in Prometheus", every_s=0)
    # Alertmanager sends the resolution at its next group_interval (1 m).
    [closed] = eventually(lambda: incidents(plane, status="resolved"), timeout_s=90,
                          what="the incident resolved by its alert")  # fmt: skip
    assert closed["id"] == incident["id"] and closed["resolved_by"] == "alertmanager"
    assert closed["resolution"] == "all its alerts resolved"
    timeline = plane.get(f"/v1/incidents/{incident['id']}").json()["timeline"]
    assert "alert_resolved" in [e["kind"] for e in timeline]
    assert not incidents(plane, status="open")
    assert incident["id"] in [i for x in webhook_calls(plane) for i in x["resolved_incidents"]]
    assert plane.get("/v1/audit/verify").json()["ok"] is True

    cleared = eventually(
        lambda: (s := signal(plane, "incident_active"))["state"] == "inactive" and s,
        timeout_s=10, what="incident_active cleared",
    )  # fmt: skip
    assert cleared["evidence"]["open_p1_p2"] == []
    after = decide_deploy(plane)
    assert after["final_mode"] == "AUTO", after["reasons"]
