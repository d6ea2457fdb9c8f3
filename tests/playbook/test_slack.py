"""Slack slash commands: signed exactly as Slack signs, stale and replayed requests refused,
a mapped user runs as its identity, an unmapped one is refused."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from controlplane.config import Settings

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"slack_signing_secret": SecretStr(SECRET), "slack_users": "U1=alice"}
    )


def signed(body: bytes, *, secret: str = SECRET, ts: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    mac = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={mac}",
            "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip


def form(text: str, user: str = "U1") -> bytes:
    return urlencode({"command": "/ops", "text": text, "user_id": user, "user_name": "x",
                      "response_url": ""}).encode()  # fmt: skip


def post(client: TestClient, body: bytes, headers: dict[str, str]) -> Any:
    return client.post("/v1/chat/slack", content=body, headers=headers)


def test_a_signed_command_runs_as_the_mapped_identity(client: TestClient, token_for: Any) -> None:
    token_for(name="alice", kind="human", roles=("operator", "approver"))
    body = form("/flaky fails=0")
    r = post(client, body, signed(body))
    assert r.status_code == 200, r.text
    assert r.json()["response_type"] == "in_channel" and "alice" in r.json()["text"]
    admin = {"Authorization": f"Bearer {client.app.state.ctx.admin_token}"}  # type: ignore[attr-defined]
    [run] = client.get("/v1/runs", headers=admin).json()["data"]
    assert (run["requested_by"], run["via"]) == ("alice", "slack")


@pytest.mark.parametrize(
    "why",
    ["forged", "tampered", "stale", "future", "missing"],
)
def test_unsigned_or_altered_requests_are_refused(client: TestClient, why: str) -> None:
    body = form("/flaky")
    headers = {
        "forged": signed(body, secret="not-the-secret"),
        "tampered": signed(form("/flaky fails=9")),
        "stale": signed(body, ts=int(time.time()) - 301),
        "future": signed(body, ts=int(time.time()) + 301),
        "missing": {"Content-Type": "application/x-www-form-urlencoded"},
    }[why]
    r = post(client, body, headers)
    assert r.status_code == 401, r.text
    admin = {"Authorization": f"Bearer {client.app.state.ctx.admin_token}"}  # type: ignore[attr-defined]
    assert client.get("/v1/runs", headers=admin).json()["count"] == 0


def test_a_replayed_request_is_refused(client: TestClient, token_for: Any) -> None:
    token_for(name="alice", kind="human", roles=("operator",))
    body = form("/flaky fails=0 attempts=2")
    headers = signed(body)
    assert post(client, body, headers).status_code == 200
    assert post(client, body, headers).status_code == 401


def test_an_unmapped_user_is_refused(client: TestClient) -> None:
    body = form("/flaky", user="U999")
    r = post(client, body, signed(body))
    assert r.status_code == 200 and "not mapped" in r.json()["text"]
    admin = {"Authorization": f"Bearer {client.app.state.ctx.admin_token}"}  # type: ignore[attr-defined]
    assert client.get("/v1/runs", headers=admin).json()["count"] == 0


def test_a_mapped_user_without_the_role_is_refused_and_recorded(
    client: TestClient, token_for: Any
) -> None:
    """Slack is only another door: the mapped identity's roles hold, and the refusal is logged."""
    token_for(name="alice", kind="human", roles=("viewer",))
    body = form("/flaky fails=0")
    r = post(client, body, signed(body))
    assert r.status_code == 200 and "refused" in r.json()["text"]
    assert "operator" in r.json()["text"]
    admin = {"Authorization": f"Bearer {client.app.state.ctx.admin_token}"}  # type: ignore[attr-defined]
    assert client.get("/v1/runs", headers=admin).json()["count"] == 0
    refused = client.get("/v1/audit?result=refused", headers=admin).json()["data"]
    assert [(a["agent"], a["inputs"]["via"]) for a in refused] == [("alice", "slack")]


def test_slack_unconfigured_is_refused(client: TestClient, settings: Settings) -> None:
    client.app.state.ctx.settings = settings.model_copy(update={"slack_signing_secret": None})  # type: ignore[attr-defined]
    body = form("/flaky")
    assert post(client, body, signed(body)).status_code == 401
