"""MCP fixtures: a served plane (real HTTP), its people, and a release soaked in staging."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from controlplane.client import ControlPlaneClient
from controlplane.clock import ManualClock
from tests.delivery.conftest import deploy_body

People = dict[str, str]


@pytest.fixture
def people(plane_url: str, app: FastAPI) -> People:
    """Tokens: an agent (operator), two human approvers, and a human operator."""
    out: People = {}
    with ControlPlaneClient(plane_url, app.state.ctx.admin_token) as admin:
        for name, kind, roles in (
            ("claude-code", "agent", ["operator"]),
            ("alice", "human", ["approver"]),
            ("bob", "human", ["approver"]),
            ("olga", "human", ["operator"]),
        ):
            out[name] = admin.create_token(name, kind, roles)["token"]
    return out


def as_(plane_url: str, token: str) -> ControlPlaneClient:
    """A client acting as the holder of `token`."""
    return ControlPlaneClient(plane_url, token)


@pytest.fixture
def soaked(plane_url: str, people: People, clock: ManualClock) -> dict[str, Any]:
    """bankchurn's release healthy in dev and staging for 16 minutes: production may be asked."""
    with as_(plane_url, people["olga"]) as olga, as_(plane_url, people["bob"]) as bob:
        dev = olga.wait(olga.deploy(**_args(deploy_body("dev"))), timeout_s=30)
        assert dev["status"] == "succeeded", dev
        staging = olga.deploy(**_args(deploy_body("staging")))
        assert staging["status"] == "pending_approval", staging
        bob.approve(str(staging["approval_id"]), "staging looks good")
        assert olga.wait(staging, timeout_s=30)["status"] == "succeeded"
    clock.advance(timedelta(minutes=16))
    return deploy_body("production")


def _args(body: dict[str, Any]) -> dict[str, Any]:
    """A deployment body as the client's keyword arguments."""
    return {k: v for k, v in body.items()}
