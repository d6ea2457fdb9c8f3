"""Playbook tests: a folder of small playbooks and a counting action whose effects are files."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import Field

from controlplane.app import create_app
from controlplane.config import Settings
from controlplane.playbook.actions.base import (
    Action,
    ActionFailed,
    ActionInputs,
    ActionOutputs,
    StepContext,
)

Headers = dict[str, str]
TERMINAL = ("succeeded", "failed", "cancelled", "paused")


class TouchIn(ActionInputs):
    name: str
    sleep: float = Field(default=0, ge=0, le=120)
    fail_times: int = Field(default=0, ge=0)


class TouchOut(ActionOutputs):
    path: str
    count: int


def effects_dir(settings: Settings) -> Path:
    """Where the counting action writes one line per effect."""
    return settings.state_dir / "effects"


def touch_action(folder: Path) -> Action[TouchIn, TouchOut]:
    """An action with a visible effect: appends its key to `<name>.log` (count the lines)."""

    def run(ctx: StepContext, given: TouchIn) -> TouchOut:
        folder.mkdir(parents=True, exist_ok=True)
        tries = folder / f"{given.name}.tries"
        with tries.open("a") as out:
            out.write(ctx.idempotency_key + "\n")
        if len(tries.read_text().splitlines()) <= given.fail_times:
            raise ActionFailed(f"{given.name} failed on purpose")
        time.sleep(given.sleep)
        log = folder / f"{given.name}.log"
        with log.open("a") as out:
            out.write(ctx.idempotency_key + "\n")
        return TouchOut(path=str(log), count=len(log.read_text().splitlines()))

    return Action("test.touch", "notify", "append a line", TouchIn, TouchOut, run)


def count(settings: Settings, name: str) -> int:
    """How many times the touch action's effect happened for `name`."""
    log = effects_dir(settings) / f"{name}.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


PLAYBOOKS = {
    "touchy": """
name: touchy
description: Three touches; the middle one is gated as a rollback (STOP).
inputs:
  - {name: service, type: service, required: true, positional: true}
  - {name: environment, type: environment, default: production}
scope: {environment: "{{ inputs.environment }}", service: "{{ inputs.service }}"}
steps:
  - {id: first, action: test.touch, with: {name: first}}
  - id: gated
    action: test.touch
    operation: rollback
    with: {name: "gated-after-{{ steps.first.outputs.count }}"}
  - {id: last, action: test.touch, with: {name: last}}
""",
    "flaky": """
name: flaky
description: A step that fails twice, then works.
inputs:
  - {name: fails, type: int, default: 2}
  - {name: attempts, type: int, default: 3}
steps:
  - id: shaky
    action: test.touch
    retries: {attempts: 3, backoff_s: 0}
    with: {name: shaky, fail_times: "{{ inputs.fails }}"}
""",
    "closer": """
name: closer
description: Resolve one incident (judged by the rules on incident.resolve, as the API is).
inputs:
  - {name: incident, type: string, required: true, positional: true}
  - {name: environment, type: environment, default: staging}
scope: {environment: "{{ inputs.environment }}"}
steps:
  - id: resolve
    action: incident.resolve
    with: {incident_id: "{{ inputs.incident }}", resolution: "closed by a run"}
""",
    "hung": """
name: hung
description: A step that outlives its timeout.
inputs:
  - {name: name, type: string, default: hung}
  - {name: seconds, type: int, default: 20}
steps:
  - id: stuck
    action: test.touch
    timeout: 1s
    with: {name: "{{ inputs.name }}", sleep: "{{ inputs.seconds }}"}
""",
    "slow": """
name: slow
description: A step that takes a while (for crash and timeout tests).
inputs:
  - {name: seconds, type: int, default: 5}
  - {name: timeout, type: string, default: 60s}
steps:
  - {id: before, action: test.touch, with: {name: before}}
  - id: sleepy
    action: test.touch
    timeout: 30s
    with: {name: sleepy, sleep: "{{ inputs.seconds }}"}
  - {id: after, action: test.touch, with: {name: after}}
""",
}


def write_playbooks(folder: Path, books: dict[str, str]) -> Path:
    """A playbook folder holding `books` (name -> YAML)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in books.items():
        (folder / f"{name}.yaml").write_text(text)
    return folder


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The test playbooks instead of the repo's (the repo's are loaded by test_catalog)."""
    folder = write_playbooks(tmp_path / "playbooks", PLAYBOOKS)
    return settings.model_copy(update={"playbook_dir": folder, "run_poll_s": 0.1})


def with_touch(application: FastAPI, settings: Settings) -> FastAPI:
    """Register the counting action and load the playbooks that name it."""
    parts = application.state.ctx.playbooks
    parts.actions.add(touch_action(effects_dir(settings)))
    assert parts.store.reload(), parts.store.last_error
    return application


@pytest.fixture
def app(settings: Settings, clock: Any, workloads: Any) -> Iterator[FastAPI]:
    """A plane with the counting action registered."""
    application = with_touch(create_app(settings, clock=clock, workloads=workloads), settings)
    yield application
    application.state.ctx.close()


def follow(
    client: Any,
    headers: Headers,
    run_id: str,
    timeout_s: float = 30,
    until: tuple[str, ...] = TERMINAL,
) -> Any:
    """The run once it stops moving (succeeded, failed, cancelled or paused), or reaches `until`."""
    deadline = time.monotonic() + timeout_s
    while True:
        run = client.get(f"/v1/runs/{run_id}", headers=headers).json()
        if run["status"] in until:
            return run
        assert time.monotonic() < deadline, f"run still {run['status']}: {run['reason']}"
        time.sleep(0.05)


def step(run: dict[str, Any], step_id: str) -> dict[str, Any]:
    """One step of a run's timeline."""
    return next(s for s in run["steps"] if s["step_id"] == step_id)
