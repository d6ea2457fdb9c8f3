"""A playbook's silence step makes a real silence in Alertmanager; cancelling the run with
compensation expires it there (issue 11 part 6, through the plane, not the adapter alone)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from controlplane.app import create_app
from controlplane.config import Settings
from tests.monitoring.alertmanager_process import Alertmanager
from tests.playbook.conftest import follow, step, write_playbooks

pytestmark = pytest.mark.monitoring

HUSH = """
name: hush
description: Silence a service's alerts, then wait for a human.
inputs:
  - {name: service, type: service, required: true, positional: true}
scope: {environment: dev, service: "{{ inputs.service }}"}
steps:
  - id: silence
    action: alert.silence
    with: {service: "{{ inputs.service }}", environment: dev, duration: 600,
           comment: "run {{ run.id }}"}
    compensate:
      action: alert.expire
      with: {silence_id: "{{ steps.silence.outputs.silence_id }}"}
  - id: hold
    action: workload.restore
    with: {service: "{{ inputs.service }}", environment: dev, release: "none"}
"""


@pytest.fixture
def app(settings: Settings, tmp_path: Path, alertmanager: Alertmanager) -> Iterator[FastAPI]:
    folder = write_playbooks(tmp_path / "books", {"hush": HUSH})
    tuned = settings.model_copy(
        update={"playbook_dir": folder, "run_poll_s": 0.1, "alertmanager_url": alertmanager.url}
    )
    application = create_app(tuned)
    yield application
    application.state.ctx.close()


def silences(url: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{url}/api/v2/silences", timeout=5).json())


def test_the_silence_step_silences_in_alertmanager_and_compensation_expires_it(
    client: TestClient, admin_headers: dict[str, str], token_for: Any, alertmanager: Alertmanager
) -> None:
    bob = token_for(name="bob", kind="human", roles=("approver",))
    r = client.post("/v1/commands", json={"text": "/hush bankchurn"}, headers=admin_headers)
    assert r.status_code == 202, r.text
    run = follow(client, admin_headers, r.json()["id"])
    approval = step(run, "silence")["approval_id"]  # CONSULT: one other human
    vote = client.post(f"/v1/approvals/{approval}/approve", json={"comment": "ok"}, headers=bob)
    assert vote.status_code == 202, vote.text  # the vote completes the quorum; the run goes on
    run = follow(client, admin_headers, run["id"], until=("paused", "failed", "succeeded"))
    run = follow(client, admin_headers, run["id"])
    assert step(run, "silence")["status"] == "succeeded", run
    silence_id = step(run, "silence")["outputs"]["silence_id"]

    [made] = [s for s in silences(alertmanager.url) if s["id"] == silence_id]
    assert made["status"]["state"] == "active"
    assert {(m["name"], m["value"]) for m in made["matchers"]} >= {
        ("service", "bankchurn"), ("environment", "dev")}  # fmt: skip
    assert run["id"] in made["comment"]

    cancel = client.post(f"/v1/runs/{run['id']}/cancel",
                         json={"reason": "wrong service", "compensate": True},
                         headers=admin_headers)  # fmt: skip
    assert cancel.status_code in (200, 202), cancel.text
    done = follow(client, admin_headers, run["id"], until=("cancelled",))
    assert step(done, "silence")["status"] == "compensated", done
    [after] = [s for s in silences(alertmanager.url) if s["id"] == silence_id]
    assert after["status"]["state"] == "expired"
