"""Playbook run use cases: start (or plan), read, cancel, resume. The runner does the steps."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel import Session, col, select

from controlplane.approval import service as approvals
from controlplane.audit.recorder import Recorder
from controlplane.audit.redact import sanitize
from controlplane.clock import Clock
from controlplane.errors import Conflict, InvalidRequest, NotFound
from controlplane.governance.kinds import judged_in
from controlplane.governance.service import decision_fields
from controlplane.identity.models import Principal
from controlplane.playbook.actions.base import ActionRegistry
from controlplane.playbook.command import CommandError, bind
from controlplane.playbook.loader import Playbook, PlaybookStore
from controlplane.playbook.models import (
    PlannedStep,
    PlaybookRun,
    PlaybookStep,
    RunPlan,
    RunPublic,
    StepPublic,
)
from controlplane.playbook.rows import context_of, mark_runnable, where_step_lands
from controlplane.playbook.runner import Runner
from controlplane.playbook.states import (
    RUN_TRANSITIONS,
    STEP_TRANSITIONS,
    RunStatus,
    StepStatus,
    move,
)
from controlplane.playbook.template import TemplateProblem, has_template, references, render, truthy
from controlplane.policy.models import DecisionInput, Mode
from controlplane.policy.service import Decider


def find(store: PlaybookStore, name: str) -> Playbook:
    """The playbook of that name (404 naming the ones there are)."""
    book = store.get(name)
    if book is None:
        raise NotFound(f"no playbook {name!r}", {"known": [b.name for b in store]})
    return book


def bind_inputs(
    book: Playbook,
    command_args: Sequence[str],
    kwargs: Mapping[str, str],
    *,
    services: Sequence[str],
    environments: Sequence[str],
) -> dict[str, Any]:
    """Typed inputs from a command's words (422 listing every bad input, nothing stored)."""
    from controlplane.playbook.command import Command

    try:
        return bind(
            book.spec,
            Command(book.name, tuple(command_args), dict(kwargs), False),
            services=services,
            environments=environments,
        )
    except CommandError as exc:
        problems = getattr(exc, "problems", None) or [("text", str(exc))]
        raise InvalidRequest(
            f"/{book.name}: {exc}",
            {"errors": [{"field": f, "reason": r} for f, r in problems]},
        ) from exc


def _scope(book: Playbook, inputs: Mapping[str, Any]) -> tuple[str | None, str | None]:
    ctx = {"inputs": dict(inputs), "steps": {}, "run": {}, "scope": {}}
    env = render(book.spec.scope.environment, ctx) if book.spec.scope.environment else None
    svc = render(book.spec.scope.service, ctx) if book.spec.scope.service else None
    return (str(env) if env else None), (str(svc) if svc else None)


def start(
    *,
    session: Session,
    decider: Decider,
    actions: ActionRegistry,
    audit: Recorder,
    clock: Clock,
    principal: Principal,
    book: Playbook,
    inputs: Mapping[str, Any],
    command: str | None,
    via: str,
    reply_to: str | None = None,
) -> PlaybookRun:
    """Record a new run (decided as `playbook.run`) with its steps pending; the worker runs it."""
    environment, service = _scope(book, inputs)
    decision = decider.decide(
        DecisionInput(
            operation="playbook.run",
            environment=judged_in(environment),
            service=service if service != "all" else None,
            actor=principal.name,
            actor_kind=principal.kind,
            context={"playbook": book.name},
        )
    )
    if Mode.parse(decision.final_mode) is not Mode.AUTO:  # fail closed: starting is not asked for
        raise Conflict(
            f"starting /{book.name} is {decision.final_mode} here: {'; '.join(decision.reasons)}",
            {"mode": decision.final_mode, "reasons": decision.reasons},
        )
    now = clock.now()
    run = PlaybookRun(
        id=uuid.uuid4().hex,
        playbook=book.name,
        playbook_version=book.version,
        spec=book.spec.model_dump(mode="json", by_alias=True),
        inputs=sanitize(dict(inputs)),
        command=command[:2000] if command else None,
        status=RunStatus.QUEUED.value,
        environment=environment,
        service=service if service != "all" else None,
        requested_by=principal.name,
        requested_kind=principal.kind,
        via=via,
        reply_to=reply_to,
        created_at=now,
        updated_at=now,
    )
    session.add(run)
    for position, step in enumerate(book.spec.steps):
        session.add(
            PlaybookStep(
                id=uuid.uuid4().hex,
                run_id=run.id,
                step_id=step.id,
                position=position,
                action=step.action,
                operation=step.operation or _action_operation(actions, step.action),
                status=StepStatus.PENDING.value,
            )
        )
    session.flush()
    audit.record(
        session,
        principal,
        operation="playbook.run",
        result="requested",
        inputs={"run_id": run.id, "playbook": book.name, "inputs": run.inputs, "via": via},
        outputs={"playbook_version": book.version, "steps": [s.id for s in book.spec.steps]},
        **decision_fields(decision),
    )
    mark_runnable(session)
    return run


def plan(
    *, runner: Runner, principal: Principal, book: Playbook, inputs: Mapping[str, Any]
) -> RunPlan:
    """A dry run: each step's inputs as far as they are known and the mode it would get now."""
    environment, service = _scope(book, inputs)
    run = PlaybookRun(
        id="dry-run",
        playbook=book.name,
        playbook_version=book.version,
        spec={},
        inputs=dict(inputs),
        status="queued",
        environment=environment,
        service=service if service != "all" else None,
        requested_by=principal.name,
        requested_kind=principal.kind,
        created_at=runner.clock.now(),
        updated_at=runner.clock.now(),
    )
    ctx = context_of(run, [])
    planned = [_plan_step(runner, run, step, ctx) for step in book.spec.steps]
    waits = [p for p in planned if p.mode and p.mode != "AUTO" and p.skipped is not True]
    message = (
        f"dry run of /{book.name}: {len(planned)} steps, "
        + (
            f"{len(waits)} would wait for humans "
            f"({', '.join(f'{p.step_id} {p.mode}' for p in waits)})"
            if waits
            else "all AUTO now"
        )
        + "; nothing was stored or changed"
    )
    return RunPlan(playbook=book.name, inputs=dict(inputs), steps=planned, message=message)


def _plan_step(runner: Runner, run: PlaybookRun, step: Any, ctx: Mapping[str, Any]) -> PlannedStep:
    action = runner.actions.get(step.action)
    operation = step.operation or (action.operation if action else step.action)
    unresolved = sorted({".".join(p) for p in references(dict(step.with_)) if p[0] == "steps"})
    inputs = {
        key: (value if not has_template(value) else _try(value, ctx))
        for key, value in step.with_.items()
    }
    skipped: bool | None = None
    if step.when:
        try:
            skipped = not truthy(step.when, ctx)
        except TemplateProblem:
            skipped = None
    try:
        where = where_step_lands(step, ctx, run)
    except TemplateProblem:
        where = (run.environment, run.service)
    decision = runner.decide_step(run, step, inputs, where)
    return PlannedStep(
        step_id=step.id,
        action=step.action,
        operation=operation,
        environment=where[0],
        service=where[1],
        mode=decision.final_mode,
        required_approvals=decision.required_approvals,
        reasons=decision.reasons,
        inputs=sanitize(inputs),
        unresolved=unresolved,
        skipped=skipped,
        when=step.when,
    )


def _try(value: Any, ctx: Mapping[str, Any]) -> Any:
    try:
        return render(value, ctx)
    except TemplateProblem:
        return value  # depends on an earlier step: shown as written


# -- reading ---------------------------------------------------------------------------------


def get(*, session: Session, run_id: str) -> PlaybookRun:
    """One run or 404."""
    run = session.get(PlaybookRun, run_id)
    if run is None:
        raise NotFound(f"run {run_id} not found")
    return run


def steps_of(session: Session, run_id: str) -> list[PlaybookStep]:
    """A run's steps in order."""
    query = select(PlaybookStep).where(PlaybookStep.run_id == run_id)
    return list(session.exec(query.order_by(col(PlaybookStep.position))).all())


def list_runs(
    *, session: Session, playbook: str | None, status: str | None, limit: int
) -> list[PlaybookRun]:
    """Runs, newest first."""
    query = select(PlaybookRun)
    if playbook:
        query = query.where(PlaybookRun.playbook == playbook)
    if status:
        query = query.where(PlaybookRun.status == status)
    return list(session.exec(query.order_by(col(PlaybookRun.created_at).desc()).limit(limit)))


def public(session: Session, run: PlaybookRun, *, with_steps: bool = True) -> RunPublic:
    """A run as the API shows it, with its step timeline."""
    rows = steps_of(session, run.id) if with_steps else []
    steps = [_step_public(session, row) for row in rows]
    return RunPublic(
        **run.model_dump(
            include={
                "id", "playbook", "status", "reason", "inputs", "command", "environment",
                "service", "requested_by", "requested_kind", "via", "current_step",
                "cancel_requested", "created_at", "updated_at", "finished_at",
            }
        ),
        message=message(run, steps),
        steps=steps,
    )  # fmt: skip


def _step_public(session: Session, row: PlaybookStep) -> StepPublic:
    count = (
        len(approvals.approvers(session=session, request_id=row.approval_id))
        if row.approval_id
        else 0
    )
    return StepPublic(
        **row.model_dump(
            include={
                "step_id", "position", "action", "operation", "status", "mode", "environment",
                "service", "approval_id", "approvers", "inputs", "outputs", "notes", "error",
                "attempts", "executed_by", "started_at", "finished_at",
            }
        ),
        reasons=list(row.decision.get("reasons", [])),
        approvals=count,
        required_approvals=int(row.decision.get("required_approvals", 0)) if row.approval_id else 0,
    )  # fmt: skip


def message(run: PlaybookRun, steps: list[StepPublic]) -> str:
    """The line a person or agent reads first about a run."""
    done = sum(1 for s in steps if s.status in ("succeeded", "skipped", "compensated"))
    head = f"/{run.playbook} {run.status}" + (f" ({done}/{len(steps)} steps)" if steps else "")
    return f"{head}: {run.reason}" if run.reason else head


# -- changing --------------------------------------------------------------------------------


def cancel(
    *,
    session: Session,
    audit: Recorder,
    principal: Principal,
    run_id: str,
    reason: str,
    compensate: bool,
) -> PlaybookRun:
    """Ask a run to stop: the running step finishes, the rest is cancelled (and undone if asked)."""
    run = get(session=session, run_id=run_id)
    if RunStatus(run.status) in (RunStatus.SUCCEEDED, RunStatus.CANCELLED):
        raise Conflict(f"run {run_id} is already {run.status}", {"status": run.status})
    run.cancel_requested, run.cancel_reason = True, reason[:500]
    run.compensate_on_cancel = compensate
    session.add(run)
    audit.record(
        session,
        principal,
        operation="playbook.cancel",
        result="requested",
        environment=run.environment,
        service=run.service,
        inputs={"run_id": run.id, "reason": reason, "compensate": compensate},
    )
    mark_runnable(session)
    return run


def resume(
    *, session: Session, audit: Recorder, clock: Clock, principal: Principal, run_id: str
) -> PlaybookRun:
    """Continue a failed or expired run from its stopped step, under a new attempt group."""
    run = get(session=session, run_id=run_id)
    stuck = [
        s
        for s in steps_of(session, run_id)
        if s.status in (StepStatus.FAILED.value, StepStatus.EXPIRED.value)
    ]
    if RunStatus(run.status) not in (RunStatus.FAILED, RunStatus.PAUSED) or not stuck:
        raise Conflict(
            f"run {run_id} is {run.status}; only a failed run or one whose approval expired "
            "can be resumed",
            {"status": run.status},
        )
    if any(s.status == StepStatus.REJECTED for s in steps_of(session, run_id)):
        raise Conflict(f"run {run_id} was rejected by an approver; start a new run instead")
    row = stuck[0]
    move(row, StepStatus.PENDING, STEP_TRANSITIONS, f"step {row.step_id}")
    row.attempt_group += 1
    row.attempts, row.approval_id, row.approvers = 0, None, []
    row.notes = [*row.notes, f"resumed by {principal.name} (attempt group {row.attempt_group})"]
    session.add(row)
    move(run, RunStatus.QUEUED, RUN_TRANSITIONS, f"run {run.id}")
    run.reason, run.finished_at, run.updated_at = f"resumed by {principal.name}", None, clock.now()
    session.add(run)
    audit.record(
        session,
        principal,
        operation="playbook.resume",
        result="requested",
        environment=run.environment,
        service=run.service,
        inputs={"run_id": run.id, "step": row.step_id, "attempt_group": row.attempt_group},
    )
    mark_runnable(session)
    return run


def usage_of(store: PlaybookStore, actions: ActionRegistry) -> list[dict[str, Any]]:
    """Every playbook with its inputs and steps (GET /v1/playbooks)."""
    return [
        {
            "name": b.name,
            "description": b.spec.description,
            "version": b.version,
            "inputs": [i.model_dump(mode="json") for i in b.spec.inputs],
            "steps": [
                {
                    "id": s.id,
                    "action": s.action,
                    "operation": s.operation or _action_operation(actions, s.action),
                }
                for s in b.spec.steps
            ],
        }
        for b in store
    ]


def _action_operation(actions: ActionRegistry, name: str) -> str:
    action = actions.get(name)
    return action.operation if action else name
