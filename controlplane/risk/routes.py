"""Signals and drift endpoints; every change goes through the door as a governed action."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from controlplane.deps import ClockDep, DoorDep, Operator, SessionDep, SignalsDep, Viewer
from controlplane.errors import NotFound
from controlplane.governance.models import GovernedAction
from controlplane.handoff.ml import DriftReport
from controlplane.policy.models import EnvironmentName
from controlplane.responses import WAITS, govern
from controlplane.risk import kinds
from controlplane.risk import service as risk
from controlplane.risk.models import (
    SERVICE_PATTERN,
    BaselineReset,
    DriftReportAccepted,
    OverrideCleared,
    OverrideOut,
    SignalPublic,
    SignalSet,
    SignalsPublic,
)
from controlplane.risk.signals import SignalName

router = APIRouter(prefix="/v1", tags=["signals"])
ServiceQuery = Query(default=None, max_length=64, pattern=SERVICE_PATTERN)


def _override_out(row: GovernedAction) -> OverrideOut:
    return OverrideOut(**{**row.outputs, "audit_seq": row.audit_seq})


def _cleared_out(row: GovernedAction) -> OverrideCleared:
    return OverrideCleared(cleared=row.outputs["cleared"], audit_seq=row.audit_seq)


def _accepted_out(row: GovernedAction) -> DriftReportAccepted:
    return DriftReportAccepted(**{**row.outputs, "audit_seq": row.audit_seq})


@router.get("/signals", response_model=SignalsPublic)
def list_signals(
    signals: SignalsDep,
    _: Viewer,
    service: str | None = ServiceQuery,
    environment: EnvironmentName | None = Query(default=None),
) -> SignalsPublic:
    """Every risk signal with its state, source, time and evidence (the real reading shown
    next to any override or suppression)."""
    readings = signals.readings(service, environment)
    return SignalsPublic(
        service=service,
        data=[
            SignalPublic(
                name=r.name,
                state=r.state.value,
                source=r.source,
                observed_at=r.observed_at,
                evidence=dict(r.evidence),
            )
            for r in readings
        ],
    )


@router.put("/signals/{name}", response_model=OverrideOut, responses=WAITS)
def set_signal(
    body: SignalSet,
    session: SessionDep,
    door: DoorDep,
    principal: Operator,
    name: SignalName,
) -> Any:
    """Raise a signal for a while (AUTO by default), or ask to suppress it (`state: inactive`:
    `signal.suppress`, humans only, CONSULT or STOP): 202 while it waits for approval."""
    raises = body.state == "active"
    payload = {"action": "raise" if raises else "suppress", "name": name.value, **body.model_dump()}
    operation = "signal.override" if raises else "signal.suppress"
    return govern(door, session, principal, operation, payload, _override_out)


@router.delete("/signals/{name}", response_model=OverrideCleared, responses=WAITS)
def clear_signal(
    session: SessionDep,
    door: DoorDep,
    clock: ClockDep,
    principal: Operator,
    name: SignalName,
    service: str | None = ServiceQuery,
    environment: EnvironmentName | None = Query(default=None),
) -> Any:
    """Clear the live overrides of a signal for a scope. Clearing a suppression or one's own
    raise is direct; clearing another identity's raise lowers what they said: signal.suppress."""
    rows = risk.overrides_in_scope(
        session=session, clock=clock, name=name.value, service=service, environment=environment
    )
    if not rows:
        where = f" on {service or 'all services'}/{environment or 'all environments'}"
        raise NotFound(f"no live override of {name}{where}")
    safe = all(kinds.clearable_by(r, principal.name) for r in rows)
    payload = {
        "action": "clear",
        "name": name.value,
        "service": service,
        "environment": environment,
        "override_ids": [r.id for r in rows],
    }
    operation = "signal.override" if safe else "signal.suppress"
    return govern(door, session, principal, operation, payload, _cleared_out)


@router.post("/drift-reports", response_model=DriftReportAccepted, status_code=201)
def post_drift_report(
    body: DriftReport, session: SessionDep, door: DoorDep, principal: Operator
) -> Any:
    """Accept a drift job's report; drift_severe follows each reporter's newest report."""
    payload = {"report": body.model_dump(mode="json")}
    return govern(door, session, principal, "drift.report", payload, _accepted_out)


@router.post("/drift-baselines", response_model=dict[str, str], status_code=201, responses=WAITS)
def reset_drift_baseline(
    body: BaselineReset, session: SessionDep, door: DoorDep, principal: Operator
) -> Any:
    """Ask that drift reports so far stop counting for a service (`drift.baseline.update`)."""
    return govern(
        door,
        session,
        principal,
        "drift.baseline.update",
        body.model_dump(),
        lambda row: JSONResponse(row.outputs, status_code=201),
    )
