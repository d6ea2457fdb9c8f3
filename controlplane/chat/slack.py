"""Slack slash commands: the signature Slack specifies, replay refusal, the form, replies.

`X-Slack-Signature` = `v0=` + HMAC-SHA256 of `v0:{timestamp}:{raw body}` with the app's signing
secret, compared in constant time (slack_sdk's SignatureVerifier), within 5 minutes; a request
taken once is refused the second time, by any replica (chat_request_seen).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import parse_qs, urlparse

from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.webhook import WebhookClient
from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from controlplane.chat.models import SeenChatRequest

WINDOW_S = 300


class SlackSignatureError(ValueError):
    """A request that did not come from Slack (or came twice, or too late)."""


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def verify(
    signing_secret: str, headers: Mapping[str, str], body: bytes, *, now: float
) -> tuple[str, str]:
    """Refuse unless signed by Slack within the window; return (timestamp, signature)."""
    ts, sig = _header(headers, "X-Slack-Request-Timestamp"), _header(headers, "X-Slack-Signature")
    if not ts or not sig:
        raise SlackSignatureError("missing X-Slack-Request-Timestamp or X-Slack-Signature")
    if not ts.isdigit():
        raise SlackSignatureError("X-Slack-Request-Timestamp is not a number")
    if abs(now - int(ts)) > WINDOW_S:
        raise SlackSignatureError("stale request (more than 5 minutes from now)")
    verifier = SignatureVerifier(signing_secret, clock=_Fixed(now))
    if not verifier.is_valid(body, ts, sig):
        raise SlackSignatureError("bad signature")
    return ts, sig


class _Fixed(Clock):
    """The clock slack_sdk's verifier reads (so one `now` judges the whole request)."""

    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


class ReplayGuard:
    """Remembers requests taken within the window, in the database every replica shares."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def check_and_remember(self, ts: str, signature: str, now: float) -> None:
        """Refuse a request already taken (here or by another replica); forget stale ones."""
        # verify() takes a timestamp up to WINDOW_S ahead of now: remember it as long
        stamp = max(now, float(ts)) if ts.isdigit() else now
        until = datetime.fromtimestamp(stamp + WINDOW_S, UTC)
        key = hashlib.sha256(f"{ts}:{signature}".encode()).hexdigest()
        with Session(self._engine) as session:
            session.exec(
                delete(SeenChatRequest).where(
                    col(SeenChatRequest.until) < datetime.fromtimestamp(now, UTC)
                )
            )
            session.add(SeenChatRequest(key=key, until=until))
            try:
                session.commit()
            except IntegrityError:
                raise SlackSignatureError("replayed request") from None


@dataclass(frozen=True)
class SlashForm:
    """What Slack posts for a slash command."""

    command: str
    text: str
    user_id: str
    user_name: str
    team_id: str
    channel_id: str
    response_url: str


def parse_form(body: bytes) -> SlashForm:
    """The urlencoded form; command and user_id are required."""
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    if not form.get("command") or not form.get("user_id"):
        raise ValueError("not a slash command payload (command and user_id are required)")
    return SlashForm(
        command=form["command"],
        text=form.get("text", ""),
        user_id=form["user_id"],
        user_name=form.get("user_name", ""),
        team_id=form.get("team_id", ""),
        channel_id=form.get("channel_id", ""),
        response_url=form.get("response_url", ""),
    )


class ResponsePoster(Protocol):
    """Posts progress to a slash command's response_url."""

    def post(self, response_url: str, text: str, *, ephemeral: bool) -> None: ...


class SlackResponsePoster:
    """slack_sdk's WebhookClient, only to allowed hosts (hooks.slack.com by default)."""

    def __init__(self, allowed_hosts: tuple[str, ...] = ("hooks.slack.com",)) -> None:
        self.allowed_hosts = allowed_hosts

    def post(self, response_url: str, text: str, *, ephemeral: bool) -> None:
        """Send one message; a refused host or a non-200 answer raises."""
        host = urlparse(response_url).hostname or ""
        if host not in self.allowed_hosts:
            raise ValueError(f"response_url host {host!r} is not allowed")
        answer = WebhookClient(response_url, timeout=5).send(
            text=text, response_type="ephemeral" if ephemeral else "in_channel"
        )
        if answer.status_code != 200:
            raise RuntimeError(f"Slack answered {answer.status_code}")


def now() -> float:
    """Seconds since the epoch (one place to read the wall clock for signatures)."""
    return time.time()
