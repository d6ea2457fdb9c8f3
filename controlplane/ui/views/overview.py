"""Overview: what runs where, the risk signals, and what `deploy` and `rollback` would get now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from controlplane.adapters.base import Target
from controlplane.deploy import service as deployments
from controlplane.deploy.facts import KNOWN_SERVICES
from controlplane.deps import ReadSessionDep, SignalsDep, WorkloadsDep, context_of
from controlplane.identity.models import Principal
from controlplane.policy.models import DecisionInput
from controlplane.policy.service import Decider
from controlplane.risk.service import SignalService
from controlplane.ui.auth import UiUser
from controlplane.ui.filters import ENVIRONMENTS
from controlplane.ui.render import PREFIX, page
from controlplane.workload.wiring import Workloads

router = APIRouter(prefix=PREFIX, include_in_schema=False)
WHAT_IF = ("deploy", "rollback")


def grid(session: Session, workloads: Workloads) -> list[dict[str, Any]]:
    """One row per service: per environment the live release, health, since when, its deployment."""
    rows = []
    for service in KNOWN_SERVICES:
        cells = {}
        for env in ENVIRONMENTS:
            live = deployments.live(session=session, service=service, environment=env)
            status = workloads.backend.status(Target(service, env))
            cells[env] = {
                "release": status.release or (live.release if live else None),
                "state": status.state,
                "healthy": status.ready_replicas > 0 if status.state != "absent" else None,
                "since": live.healthy_since if live else None,
                "deployment_id": live.id if live else None,
                "detail": status.details.get("reason"),
            }
        rows.append({"service": service, "cells": cells})
    return rows


def signal_rows(signals: SignalService) -> dict[str, list[Any]]:
    """The five signals per environment (every service), as a decision would read them."""
    return {env: signals.readings(None, env) for env in ENVIRONMENTS}


def what_if(decider: Decider, principal: Principal) -> list[Any]:
    """The decision `deploy` and `rollback` would get now, per environment (not recorded)."""
    out = []
    for env in ENVIRONMENTS:
        for operation in WHAT_IF:
            inp = DecisionInput(
                operation=operation, environment=env, actor=principal.name,
                actor_kind=principal.kind,
            )  # fmt: skip
            out.append(decider.decide(inp))
    return out


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request,
    user: UiUser,
    session: ReadSessionDep,
    workloads: WorkloadsDep,
    signals: SignalsDep,
) -> HTMLResponse:
    """Services x environments, signals, and the modes deploy and rollback would get now."""
    decider = context_of(request).decider
    return page(
        request,
        "overview.html",
        {
            "grid": grid(session, workloads),
            "environments": ENVIRONMENTS,
            "signals": signal_rows(signals),
            "decisions": what_if(decider, user.principal),
            "now": decider.clock.now(),
        },
    )
