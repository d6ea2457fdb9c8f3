"""`opsctl run` and `opsctl runs` against a served plane: follow, pause, plan, show, cancel."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import served
from fastapi import FastAPI

from controlplane.config import Settings
from tests.cli.conftest import Opsctl, _runner
from tests.playbook.conftest import count


@pytest.fixture
def opsctl(app: FastAPI, tmp_path: Path) -> Iterator[Opsctl]:
    with served(app) as url:
        yield _runner(url, app.state.ctx.admin_token, tmp_path / "cli-state")


def test_run_follows_until_a_stop_step_pauses_and_exits_3(
    opsctl: Opsctl, settings: Settings
) -> None:
    result = opsctl("run", "/touchy bankchurn env=prod")
    assert result.exit_code == 3, result.output
    assert "gated" in result.output and "pending_approval" in result.output
    assert "waits for 2 approval(s)" in result.output
    assert count(settings, "first") == 1
    listed = opsctl("runs", "list", "--json")
    [run] = json.loads(listed.output)
    shown = opsctl("runs", "show", run["id"][:8])
    assert shown.exit_code == 0 and "first" in shown.output and "STOP" in shown.output
    cancelled = opsctl("runs", "cancel", run["id"][:8], "--reason", "drill over")
    assert cancelled.exit_code == 0, cancelled.output


def test_run_to_the_end_exits_0(opsctl: Opsctl, settings: Settings) -> None:
    result = opsctl("run", "/flaky fails=1")
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output and count(settings, "shaky") == 1


def test_dry_run_prints_each_steps_mode_and_runs_nothing(
    opsctl: Opsctl, settings: Settings
) -> None:
    result = opsctl("run", "/touchy bankchurn", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "STOP" in result.output and "nothing was stored or changed" in result.output
    assert count(settings, "first") == 0


def test_help_and_bad_input(opsctl: Opsctl) -> None:
    assert "/touchy" in opsctl("run", "/help").output
    assert "service" in opsctl("run", "/touchy --help").output
    bad = opsctl("run", "/touchy bankchurn env=moon")
    assert bad.exit_code != 0 and "environment" in bad.output
