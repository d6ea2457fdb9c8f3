"""Playbook runs: the list, and one run's step timeline with modes and approvers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from controlplane.deps import ClockDep, ReadSessionDep
from controlplane.playbook import service as runs
from controlplane.ui import filters
from controlplane.ui.auth import UiUser
from controlplane.ui.render import PREFIX, page

router = APIRouter(prefix=f"{PREFIX}/runs", include_in_schema=False)
RUN_STATUSES = ("queued", "running", "paused", "waiting", "succeeded", "failed", "cancelled")


@router.get("", response_class=HTMLResponse)
def listing(request: Request, _: UiUser, session: ReadSessionDep, clock: ClockDep) -> HTMLResponse:
    """Runs, newest first (optionally one status)."""
    filters.only_known(request.query_params, ("status",))
    status = filters.choice(request.query_params, "status", RUN_STATUSES)
    rows = runs.list_runs(session=session, playbook=None, status=status, limit=200)
    data = [runs.public(session, r, with_steps=False) for r in rows]
    context = {"rows": data, "status": status, "statuses": RUN_STATUSES, "now": clock.now()}
    return page(request, "runs.html", context)


@router.get("/{run_id}", response_class=HTMLResponse)
def detail(
    request: Request, run_id: str, _: UiUser, session: ReadSessionDep, clock: ClockDep
) -> HTMLResponse:
    """One run: each step with its mode, approval, approvers, outputs and errors."""
    run = runs.public(session, runs.get(session=session, run_id=run_id[:64]))
    return page(request, "run.html", {"r": run, "now": clock.now()})
