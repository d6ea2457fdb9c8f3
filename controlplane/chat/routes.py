"""POST /v1/chat/slack: a Slack slash command runs a playbook as the mapped plane identity."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlmodel import Session

from controlplane.chat import slack
from controlplane.deps import EngineDep, PlaybooksDep, SessionDep, SettingsDep
from controlplane.errors import ControlPlaneError, Forbidden, Unauthenticated
from controlplane.identity import service as identities
from controlplane.identity.models import Principal
from controlplane.playbook import command as commands
from controlplane.playbook.actions.base import Requester
from controlplane.playbook.routes import begin
from controlplane.playbook.wiring import PlaybookParts

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/chat", tags=["chat"])


def _say(text: str, *, ephemeral: bool = True) -> JSONResponse:
    return JSONResponse({"response_type": "ephemeral" if ephemeral else "in_channel", "text": text})


@router.post("/slack", responses={401: {"description": "unsigned, or Slack not configured"}})
async def slack_command(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    parts: PlaybooksDep,
    engine: EngineDep,
) -> Any:
    """Slack's slash command (form payload, signed); answers at once, progress follows."""
    secret = settings.slack_signing_secret
    if secret is None:
        raise Unauthenticated("Slack is not configured here (CONTROLPLANE_SLACK_SIGNING_SECRET)")
    body = await request.body()
    at = slack.now()
    try:
        ts, sig = slack.verify(secret.get_secret_value(), request.headers, body, now=at)
        await run_in_threadpool(slack.ReplayGuard(engine).check_and_remember, ts, sig, at)
        form = slack.parse_form(body)
    except (slack.SlackSignatureError, ValueError) as exc:
        raise Unauthenticated(f"refused Slack request: {exc}") from None
    name = settings.slack_identities.get(form.user_id)
    if name is None:
        return _say(f"Slack user {form.user_id} is not mapped to a plane identity; ask an admin.")
    return await run_in_threadpool(_run, session, parts, name, form)


def _run(session: Session, parts: PlaybookParts, name: str, form: slack.SlashForm) -> JSONResponse:
    text = form.text.strip()
    text = text if text.startswith("/") else f"/{text}" if text else "/help"
    try:
        principal = _principal(session, name)
        parsed = commands.parse(text)
        if parsed.name == "help" or parsed.help:
            book = parts.store.get(parsed.name)
            specs = [b.spec for b in parts.store]
            return _say(commands.usage(book.spec) if book else commands.overview(specs))
        out = begin(
            parts, session, principal, parsed.name, parsed.args, dict(parsed.kwargs),
            text=text, dry_run=False, via="slack", reply_to=form.response_url or None,
        )  # fmt: skip
    except commands.CommandError as exc:
        return _say(f"{exc}\n{commands.overview([b.spec for b in parts.store])}")
    except ControlPlaneError as exc:  # Slack shows only 200 answers: say it, and record it
        session.rollback()
        _record_refusal(session, parts, Requester(name, _kind_of(session, name)), text, exc)
        return _say(f"refused: {exc.message}")
    return _say(f"/{parsed.name} started by {name}: {out.message}", ephemeral=False)


def _record_refusal(
    session: Session, parts: PlaybookParts, actor: Requester, text: str, exc: ControlPlaneError
) -> None:
    try:
        parts.runner.audit.record(
            session,
            actor,
            operation=str(exc.details.get("operation") or "playbook.run")[:128],
            result="refused",
            inputs={"via": "slack", "text": text},
            outputs={"status": exc.status, "code": exc.code, "reason": exc.message},
        )
        session.commit()
    except ControlPlaneError as down:  # the log is down: the refusal stands
        log.error("Slack refusal of %s not recorded: %s", actor.name, down.message)


def _kind_of(session: Session, name: str) -> str:
    try:
        return identities.get_identity(session=session, name=name).kind
    except ControlPlaneError:  # mapped to a name the plane does not know
        return "human"


def _principal(session: Session, name: str) -> Principal:
    who = identities.get_identity(session=session, name=name)
    if who.disabled:
        raise Forbidden(f"{name} is disabled")
    return Principal(who.id, who.name, who.kind, frozenset(who.roles))
