"""Playbook endpoints: list playbooks, start a run (or a slash command), follow, cancel, resume."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from controlplane.deploy.facts import KNOWN_SERVICES
from controlplane.deps import Operator, PlaybooksDep, ReadSessionDep, SessionDep, Viewer
from controlplane.errors import InvalidRequest, NotFound
from controlplane.identity import service as identities
from controlplane.identity.models import Principal
from controlplane.playbook import command as commands
from controlplane.playbook import service as runs
from controlplane.playbook.models import RunPlan, RunPublic, RunsPublic
from controlplane.playbook.wiring import PlaybookParts

router = APIRouter(prefix="/v1", tags=["playbooks"])
ENVIRONMENTS = ("dev", "staging", "production", "local")
RunId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="a run id")]
InputValue = str | int | bool


class RunCreate(BaseModel):
    """Start a playbook by name with named inputs (or use /v1/commands with the text)."""

    model_config = ConfigDict(extra="forbid")

    playbook: str = Field(pattern=r"^[a-z][a-z0-9-]{0,40}$")
    inputs: dict[str, InputValue] = Field(default_factory=dict, max_length=50)
    dry_run: StrictBool = False
    via: str = Field(default="api", pattern=r"^(api|cli|mcp|slack)$")


class CommandIn(BaseModel):
    """A slash command as text: `/rollback bankchurn env=production reason='p1 error rate'`."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000)
    dry_run: StrictBool = False
    via: str = Field(default="api", pattern=r"^(api|cli|mcp)$")


class CommandHelp(BaseModel):
    """What `/help` or `/<name> --help` answers: usage generated from the playbooks' inputs."""

    usage: str


class CancelIn(BaseModel):
    """Stop a run: the running step finishes; `compensate` undoes finished steps in reverse."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)
    compensate: StrictBool = False


@router.get("/playbooks")
async def list_playbooks(parts: PlaybooksDep, _: Viewer) -> Any:
    """Every loaded playbook with its inputs and steps, and why the last edit was refused."""
    return {
        "data": runs.usage_of(parts.store, parts.actions),
        "last_error": parts.store.last_error,
    }


def begin(
    parts: PlaybookParts,
    session: Any,
    principal: Principal,
    name: str,
    args: tuple[str, ...],
    kwargs: dict[str, str],
    *,
    text: str | None,
    dry_run: bool,
    via: str,
    reply_to: str | None = None,
) -> RunPlan | RunPublic:
    """Bind and start (or plan) a run; shared by /v1/runs, /v1/commands and the chat webhook."""
    identities.require(principal, "viewer" if dry_run else "operator")  # chat has no route dep
    book = runs.find(parts.store, name)
    inputs = runs.bind_inputs(
        book, args, kwargs, services=KNOWN_SERVICES, environments=ENVIRONMENTS
    )
    if dry_run:
        return runs.plan(runner=parts.runner, principal=principal, book=book, inputs=inputs)
    run = runs.start(
        session=session,
        decider=parts.runner.door.decider,
        actions=parts.actions,
        audit=parts.runner.audit,
        clock=parts.runner.clock,
        principal=principal,
        book=book,
        inputs=inputs,
        command=text,
        via=via,
        reply_to=reply_to,
    )
    session.commit()
    return runs.public(session, run)


def _answer(out: RunPlan | RunPublic) -> JSONResponse:
    return JSONResponse(
        out.model_dump(mode="json"), status_code=200 if isinstance(out, RunPlan) else 202
    )


@router.post(
    "/runs",
    status_code=202,
    response_model=RunPublic | RunPlan,
    responses={200: {"description": "dry run: the plan", "model": RunPlan}},
)
async def create_run(
    body: RunCreate, session: SessionDep, parts: PlaybooksDep, principal: Operator
) -> Any:
    """Start a run (202; the plane's worker runs it, follow GET /v1/runs/{id}) or plan it."""
    kwargs = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in body.inputs.items()}
    out = await run_in_threadpool(
        begin, parts, session, principal, body.playbook, (), kwargs,
        text=None, dry_run=body.dry_run, via=body.via,
    )  # fmt: skip
    return _answer(out)


@router.post(
    "/commands",
    status_code=202,
    response_model=RunPublic | RunPlan | CommandHelp,
    responses={200: {"description": "help, or a dry run's plan"}},
)
async def run_command(
    body: CommandIn, session: SessionDep, parts: PlaybooksDep, principal: Operator
) -> Any:
    """A slash command as text: `/help`, `/<playbook> --help`, or a run (202) / its plan."""
    try:
        parsed = commands.parse(body.text)
    except commands.CommandError as exc:
        raise InvalidRequest(
            str(exc),
            {"errors": [{"field": "text", "reason": str(exc)}], "usage": _overview(parts)},
        ) from None
    if parsed.name == "help":
        return JSONResponse({"usage": _overview(parts)})
    book = parts.store.get(parsed.name)
    if book is None:
        raise NotFound(
            f"no playbook /{parsed.name}",
            {"known": [b.name for b in parts.store], "usage": _overview(parts)},
        )
    if parsed.help:
        return JSONResponse({"usage": commands.usage(book.spec)})
    try:
        out = await run_in_threadpool(
            begin, parts, session, principal, parsed.name, parsed.args, dict(parsed.kwargs),
            text=body.text, dry_run=body.dry_run, via=body.via,
        )  # fmt: skip
    except InvalidRequest as exc:
        exc.details["usage"] = commands.usage(book.spec)
        raise
    return _answer(out)


def _overview(parts: PlaybookParts) -> str:
    return commands.overview([b.spec for b in parts.store])


@router.get("/runs", response_model=RunsPublic)
async def list_runs(
    session: ReadSessionDep,
    _: Viewer,
    playbook: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9-]{0,40}$")] = None,
    status: Annotated[
        str | None,
        Query(pattern=r"^(queued|running|paused|waiting|succeeded|failed|cancelled)$"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    """Runs, newest first (without their steps; GET /v1/runs/{id} has the timeline)."""

    def read() -> RunsPublic:
        rows = runs.list_runs(session=session, playbook=playbook, status=status, limit=limit)
        data = [runs.public(session, r, with_steps=False) for r in rows]
        return RunsPublic(data=data, count=len(data))

    return await run_in_threadpool(read)


@router.get("/runs/{run_id}", response_model=RunPublic)
async def show_run(run_id: RunId, session: ReadSessionDep, _: Viewer) -> Any:
    """A run with its step timeline: mode, approvals, who approved, outputs, errors."""

    def read() -> RunPublic:
        return runs.public(session, runs.get(session=session, run_id=run_id))

    return await run_in_threadpool(read)


@router.post("/runs/{run_id}/cancel", response_model=RunPublic, status_code=202)
async def cancel_run(
    run_id: RunId, body: CancelIn, session: SessionDep, parts: PlaybooksDep, principal: Operator
) -> Any:
    """Cancel: the running step finishes, the rest is cancelled (compensated when asked)."""

    def act() -> RunPublic:
        run = runs.cancel(
            session=session, audit=parts.runner.audit, principal=principal, run_id=run_id,
            reason=body.reason, compensate=body.compensate,
        )  # fmt: skip
        session.commit()
        return runs.public(session, run)

    return JSONResponse((await run_in_threadpool(act)).model_dump(mode="json"), status_code=202)


@router.post("/runs/{run_id}/resume", response_model=RunPublic, status_code=202)
async def resume_run(
    run_id: RunId, session: SessionDep, parts: PlaybooksDep, principal: Operator
) -> Any:
    """Continue a failed run, or one whose approval expired, from the step that stopped."""

    def act() -> RunPublic:
        run = runs.resume(
            session=session, audit=parts.runner.audit, clock=parts.runner.clock,
            principal=principal, run_id=run_id,
        )  # fmt: skip
        session.commit()
        return runs.public(session, run)

    return JSONResponse((await run_in_threadpool(act)).model_dump(mode="json"), status_code=202)
