"""Two plane processes on one PostgreSQL race the final approval: the deployment runs once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from factories import settled

from controlplane.config import Settings
from tests.delivery.conftest import deploy_body

pytestmark = pytest.mark.skipif(
    not os.environ.get("CONTROLPLANE_TEST_DATABASE_URL"), reason="needs PostgreSQL"
)

PLANE = """
import sys, uvicorn
from controlplane.adapters.workload.fake import FakeWorkloadBackend
from controlplane.app import create_app
from controlplane.config import Settings
settings = Settings(state_dir=sys.argv[1], database_url=sys.argv[2], policy_dir=sys.argv[3],
                    soak_production_minutes=0, health_window_s=0, trusted_ci_keys=sys.argv[5])
app = create_app(settings, workloads=FakeWorkloadBackend())
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[4]), log_level="warning")
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def two_planes(settings: Settings) -> Iterator[list[str]]:
    """Two plane processes sharing one database and one state folder (keys, admin token)."""
    urls, procs = [], []
    for _ in range(2):
        port = _port()
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    PLANE,
                    str(settings.state_dir),
                    settings.resolved_database_url,
                    str(settings.policy_dir),
                    str(port),
                    settings.trusted_ci_keys,
                ],
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
        _wait(urls[-1])
    yield urls
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=30)


def _wait(url: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"plane at {url} did not become ready")


def _token(
    url: str, admin: dict[str, str], name: str, kind: str, roles: list[str]
) -> dict[str, str]:
    r = httpx.post(
        f"{url}/v1/tokens", json={"name": name, "kind": kind, "roles": roles}, headers=admin
    )
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _approve_all(url: str, approval_id: str, people: list[dict[str, str]]) -> None:
    for headers in people:
        r = httpx.post(
            f"{url}/v1/approvals/{approval_id}/approve", json={}, headers=headers, timeout=60
        )
        if r.status_code == 409 or r.json().get("status") == "approved":
            return


def _settled(url: str, headers: dict[str, str], dep: dict) -> dict:
    """Follow a deployment the planes' workers run until it finishes."""
    with httpx.Client(base_url=url) as http:
        return dict(settled(http, headers, dep))


def test_final_approval_race_executes_once(two_planes: list[str], settings: Settings) -> None:
    a, b = two_planes
    admin = {"Authorization": f"Bearer {Path(settings.admin_token_path).read_text().strip()}"}
    agent = _token(a, admin, "agent", "agent", ["operator"])
    humans = [_token(a, admin, n, "human", ["approver"]) for n in ("alice", "bob", "carol")]
    httpx.put(
        f"{a}/v1/signals/off_hours",
        headers=admin,
        json={"state": "inactive", "ttl": "1h", "reason": "race test runs any hour"},
    )
    dev = httpx.post(f"{a}/v1/deployments", json=deploy_body("dev"), headers=agent, timeout=60)
    assert _settled(a, agent, dev.json())["status"] == "succeeded"
    staging = httpx.post(f"{a}/v1/deployments", json=deploy_body("staging"), headers=agent).json()
    _approve_all(a, staging["approval_id"], humans)
    assert _settled(b, agent, {**staging, "status": "approved"})["status"] == "succeeded"
    prod = httpx.post(f"{b}/v1/deployments", json=deploy_body("production"), headers=agent).json()
    assert prod["status"] == "pending_approval" and prod["required_approvals"] == 2, prod
    url = "/v1/approvals/{}/approve".format(prod["approval_id"])
    assert httpx.post(a + url, json={}, headers=humans[0]).json()["status"] == "pending"

    barrier, answers = threading.Barrier(2), []

    def final_vote(base: str, headers: dict[str, str]) -> None:
        barrier.wait()
        answers.append(httpx.post(base + url, json={}, headers=headers, timeout=60))

    threads = [
        threading.Thread(target=final_vote, args=(base, h))
        for base, h in ((a, humans[1]), (b, humans[2]))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in answers)
    # One vote completes the quorum (202: the rollout follows); the other finds it closed.
    # Both planes' workers then see one approved deployment, and only one claims it.
    assert codes == [202, 409], [r.text for r in answers]
    done = _settled(b, admin, {**prod, "status": "approved"})
    assert done["status"] == "succeeded"
    export = httpx.get(f"{a}/v1/audit/export", headers=admin).text
    executions = [
        line for line in export.splitlines() if '"deploy.execute"' in line and prod["id"] in line
    ]
    assert len(executions) == 1
    assert httpx.get(f"{b}/v1/audit/verify", headers=admin).json()["ok"] is True
