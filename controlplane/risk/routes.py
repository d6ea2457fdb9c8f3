"""Signals and drift-report endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel

from controlplane.deps import CtxDep, Operator, SessionDep, Viewer
from controlplane.risk import service as risk
from controlplane.risk.models import (
    SERVICE_PATTERN,
    DriftReport,
    DriftReportAccepted,
    SignalPublic,
    SignalSet,
    SignalsPublic,
)

router = APIRouter(prefix="/v1", tags=["signals"])


@router.get("/signals", response_model=SignalsPublic)
def list_signals(
    ctx: CtxDep,
    _: Viewer,
    service: str | None = Query(default=None, max_length=64, pattern=SERVICE_PATTERN),
) -> SignalsPublic:
    """Every risk signal with its state, source, time and evidence."""
    readings = ctx.signals.readings(service)
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


class OverrideOut(BaseModel):
    """An override as stored."""

    id: str
    name: str
    state: str
    service: str | None
    reason: str
    set_by: str
    expires_at: str
    audit_seq: int


@router.put("/signals/{name}", response_model=OverrideOut)
def set_signal(
    name: str, body: SignalSet, session: SessionDep, ctx: CtxDep, principal: Operator
) -> OverrideOut:
    """Override a signal for a while, with a reason (audited)."""
    row = risk.set_override(
        session=session, clock=ctx.clock, name=name, request=body, set_by=principal.name
    )
    line = ctx.audit(
        session,
        principal,
        operation="signal.override",
        result="success",
        service=body.service,
        inputs={"name": name, **body.model_dump()},
        outputs={"override_id": row.id, "expires_at": row.expires_at.isoformat()},
    )
    session.commit()
    ctx.signals.invalidate()
    return OverrideOut(
        id=row.id,
        name=row.name,
        state=row.state,
        service=row.service,
        reason=row.reason,
        set_by=row.set_by,
        expires_at=row.expires_at.isoformat(),
        audit_seq=line.seq,
    )


class OverrideCleared(BaseModel):
    """Which overrides were cleared."""

    cleared: list[str]
    audit_seq: int


@router.delete("/signals/{name}", response_model=OverrideCleared)
def clear_signal(
    name: str,
    session: SessionDep,
    ctx: CtxDep,
    principal: Operator,
    service: str | None = Query(default=None, max_length=64, pattern=SERVICE_PATTERN),
) -> OverrideCleared:
    """Clear the live override(s) of a signal (audited); the real source speaks again."""
    cleared = risk.clear_overrides(session=session, clock=ctx.clock, name=name, service=service)
    line = ctx.audit(
        session,
        principal,
        operation="signal.override.clear",
        result="success",
        service=service,
        inputs={"name": name},
        outputs={"cleared": cleared},
    )
    session.commit()
    ctx.signals.invalidate()
    return OverrideCleared(cleared=cleared, audit_seq=line.seq)


@router.post("/drift-reports", response_model=DriftReportAccepted, status_code=201)
def post_drift_report(
    body: DriftReport, session: SessionDep, ctx: CtxDep, principal: Operator
) -> DriftReportAccepted:
    """Accept a service's drift report; drift_severe follows the newest one."""
    accepted = risk.accept_drift_report(session=session, clock=ctx.clock, report=body)
    ctx.audit(
        session,
        principal,
        operation="drift.report",
        result="success",
        service=body.service,
        inputs={"features": len(body.features), "window_end": body.window_end.isoformat()},
        outputs=accepted.model_dump(),
    )
    session.commit()
    ctx.signals.invalidate()
    return accepted
