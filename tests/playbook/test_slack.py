"""Slack slash commands: signed exactly as Slack signs, stale and replayed requests refused,
a mapped user runs as its identity, an unmapped one is refused."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session, select

from controlplane import db
from controlplane.app import create_app
from controlplane.chat.models import SeenChatRequest
from controlplane.chat.slack import WINDOW_S, ReplayGuard, SlackSignatureError, parse_form, verify
from controlplane.config import Settings
from tests.playbook.conftest import with_touch

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
        "stale": signed(body, ts=int(time.time()) - WINDOW_S - 1),
        "future": signed(body, ts=int(time.time()) + WINDOW_S + 10),  # int() drops up to 1 s
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


def test_a_request_replayed_to_another_replica_is_refused(
    client: TestClient, token_for: Any, settings: Settings, clock: Any, workloads: Any
) -> None:
    """Two planes on one database (replicas behind one URL): the second sees the first's request."""
    token_for(name="alice", kind="human", roles=("operator",))
    body = form("/flaky fails=0 attempts=2")
    headers = signed(body)
    assert post(client, body, headers).status_code == 200
    with Session(client.app.state.ctx.engine) as session:  # type: ignore[attr-defined]
        assert len(session.exec(select(SeenChatRequest)).all()) == 1  # kept where replicas see it
    other = with_touch(create_app(settings, clock=clock, workloads=workloads), settings)
    try:
        with TestClient(other) as replica:
            r = post(replica, body, headers)
            assert r.status_code == 401 and "replayed" in r.text
            admin = {"Authorization": f"Bearer {client.app.state.ctx.admin_token}"}  # type: ignore[attr-defined]
            assert replica.get("/v1/runs", headers=admin).json()["count"] == 1
    finally:
        other.state.ctx.close()


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


# -- the replay guard and the form, on their own -------------------------------------------------


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated database of the plane's, as every replica shares one."""
    made = db.make_engine(f"sqlite:///{tmp_path / 'plane.db'}")
    db.migrate(made)
    yield made
    made.dispose()


def test_the_guard_refuses_a_request_seen_within_the_window(engine: Engine) -> None:
    guard, now = ReplayGuard(engine), 1_800_000_000.0
    guard.check_and_remember(str(int(now)), "v0=aa", now)
    guard.check_and_remember(str(int(now)), "v0=bb", now + 1)  # another request, same second
    with pytest.raises(SlackSignatureError, match="replayed"):
        guard.check_and_remember(str(int(now)), "v0=aa", now + WINDOW_S)


def test_the_guard_remembers_as_long_as_verify_would_take_the_timestamp(engine: Engine) -> None:
    secret, now = "s3cret", 1_800_000_000
    body = form("/flaky")
    for ts in (now - WINDOW_S, now, now + WINDOW_S):  # the oldest, a fresh and the newest taken
        guard, headers = ReplayGuard(engine), signed(body, secret=secret, ts=ts)
        stamp, sig = verify(secret, headers, body, now=now)
        guard.check_and_remember(stamp, sig, now)
        later = now
        while True:  # as long as verify still takes it, the guard must still refuse it
            later += 30
            try:
                verify(secret, headers, body, now=later)
            except SlackSignatureError:
                break
            with pytest.raises(SlackSignatureError, match="replayed"):
                guard.check_and_remember(stamp, sig, later)


def test_the_guard_forgets_what_left_the_window(engine: Engine) -> None:
    guard, now = ReplayGuard(engine), 1_800_000_000.0
    guard.check_and_remember(str(int(now)), "v0=old", now)
    guard.check_and_remember(str(int(now)), "v0=old", now + WINDOW_S + 1)  # verify refuses it now
    with Session(engine) as session:  # what verify would refuse is not kept
        assert len(session.exec(select(SeenChatRequest)).all()) == 1


def test_the_form_reads_what_slack_posts() -> None:
    text = "/rollback bankchurn env=production reason='p1 error rate' + more"
    reply = "https://hooks.slack.com/commands/T1/1/x"
    body = urlencode({"command": "/ops", "text": text, "user_id": "U1", "user_name": "alice",
                      "team_id": "T1", "channel_id": "C1", "trigger_id": "13345.224",
                      "response_url": reply}).encode()  # fmt: skip
    got = parse_form(body)
    assert (got.command, got.text, got.user_id, got.user_name) == ("/ops", text, "U1", "alice")
    assert (got.team_id, got.channel_id) == ("T1", "C1")
    assert got.response_url == reply


def test_the_form_defaults_what_is_optional_and_takes_utf8() -> None:
    got = parse_form(urlencode({"command": "/ops", "user_id": "U1", "text": ""}).encode())
    assert (got.text, got.user_name, got.response_url) == ("", "", "")
    assert parse_form(form("/incident bankchurn title='Größe fällt'")).text.endswith("fällt'")


@pytest.mark.parametrize(
    "body",
    [b"", b"text=%2Fhelp", b"command=%2Fops&text=x", b"user_id=U1", b"command=&user_id=U1",
     b"\xff\xfe", b"not a form"],
)  # fmt: skip
def test_a_body_without_command_and_user_is_not_a_slash_command(body: bytes) -> None:
    with pytest.raises(ValueError, match="not a slash command payload"):
        parse_form(body)
