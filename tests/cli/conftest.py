"""CLI fixtures: a real plane served by uvicorn on a free loopback port, and an `opsctl` runner."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner, Result

from controlplane.cli.main import app as opsctl_app

REPO = Path(__file__).resolve().parents[2]
Opsctl = Callable[..., Result]


@pytest.fixture
def admin_token(app: FastAPI) -> str:
    """The admin token the test plane bootstrapped."""
    token: str = app.state.ctx.admin_token
    return token


def _runner(url: str, token: str | None, state_dir: Path) -> Opsctl:
    """An `opsctl` bound to one plane and token, with an isolated state folder."""
    runner = CliRunner()

    def run(*args: str, token: str | None = token, url: str = url) -> Result:
        env = {
            "CONTROLPLANE_URL": url,
            "CONTROLPLANE_TOKEN": token,
            "CONTROLPLANE_STATE_DIR": str(state_dir),
            "CONTROLPLANE_POLICY_DIR": str(REPO / "policies"),
        }
        return runner.invoke(opsctl_app, list(args), env=env)

    return run


@pytest.fixture
def opsctl(plane_url: str, admin_token: str, tmp_path: Path) -> Opsctl:
    """Run `opsctl ARGS` as the admin against the served plane."""
    return _runner(plane_url, admin_token, tmp_path / "cli-state")


@pytest.fixture
def offline_opsctl(tmp_path: Path) -> Opsctl:
    """Run `opsctl ARGS` with no plane at all (a closed port) and no token."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return _runner(f"http://127.0.0.1:{port}", None, tmp_path / "cli-state")
