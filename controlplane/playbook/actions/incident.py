"""Incident actions: classify by the seed's thresholds, open, annotate, resolve, document.

Writes go into the step's transaction, so an incident opened by a step commits with the step's
success (a crash before it leaves neither, and the re-run opens it once).
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import Field
from sqlmodel import Session

from controlplane.incident import service as incidents
from controlplane.incident.models import Incident, IncidentCreate
from controlplane.playbook.actions.base import (
    Action,
    ActionFailed,
    ActionInputs,
    ActionOutputs,
    Requester,
    StepContext,
)

Severity = Literal["P1", "P2", "P3", "P4"]


class ClassifyIn(ActionInputs):
    severity: Severity | None = None  # given by a person: kept
    error_rate: float | None = Field(default=None, ge=0, le=1)  # share of 5xx over 5 min
    auc: float | None = Field(default=None, ge=0, le=1)  # on recently labelled data
    psi: float | None = Field(default=None, ge=0)  # on a critical feature


class ClassifyOut(ActionOutputs):
    severity: Severity
    sla: str
    why: str


SLA = {"P1": "15 min: roll back now", "P2": "4 h: investigate and retrain",
       "P3": "24 h: analyse and plan the retrain", "P4": "1 week: monitor"}  # fmt: skip


def classify(ctx: StepContext, given: ClassifyIn) -> ClassifyOut:
    """The seed's 30-second classification: error rate > 5% P1, AUC < 0.75 P2, PSI > 0.20 P3."""
    if given.severity:
        return ClassifyOut(severity=given.severity, sla=SLA[given.severity], why="given")
    if given.error_rate is not None and given.error_rate > 0.05:
        level, why = "P1", f"error rate {given.error_rate:.1%} > 5%"
    elif given.auc is not None and given.auc < 0.75:
        level, why = "P2", f"AUC {given.auc:.3f} < 0.75"
    elif given.psi is not None and given.psi > 0.20:
        level, why = "P3", f"PSI {given.psi:.3f} > 0.20"
    else:
        level, why = "P4", "no threshold crossed (minor anomaly)"
    return ClassifyOut.model_validate({"severity": level, "sla": SLA[level], "why": why})


class OpenIn(ActionInputs):
    service: str | None = None
    environment: str | None = "production"
    severity: Severity
    title: str = Field(min_length=1, max_length=200)


class IncidentOut(ActionOutputs):
    incident_id: str
    severity: str
    status: str
    joined: bool


def _key_source(key: str) -> str:
    return "playbook." + hashlib.sha256(key.encode()).hexdigest()[:20]


def open_incident(ctx: StepContext, given: OpenIn) -> IncidentOut:
    """Open an incident (or join the open one for the same target and severity)."""
    from sqlmodel import select

    source = _key_source(ctx.idempotency_key)
    again = ctx.session.exec(select(Incident).where(Incident.source == source)).first()
    if again is not None:  # this key opened it before a crash: never twice
        return IncidentOut(
            incident_id=again.id, severity=again.severity, status=again.status, joined=True
        )
    same = [
        i
        for i in incidents.blocking_open(
            session=ctx.session, service=given.service, environment=given.environment
        )
        if i.severity == given.severity and i.service == given.service
    ]
    if same:
        ctx.note(f"joined open incident {same[0].id}")
        return IncidentOut(
            incident_id=same[0].id, severity=same[0].severity, status="open", joined=True
        )
    row = incidents.create(
        session=ctx.session,
        clock=ctx.tools.clock,
        request=IncidentCreate.model_validate(
            {"service": given.service, "environment": given.environment,
             "severity": given.severity, "title": given.title, "source": source}
        ),
        opened_by=ctx.requester.name,
    )  # fmt: skip
    _record(ctx, "incident.open", row, {"title": given.title})
    return IncidentOut(incident_id=row.id, severity=row.severity, status=row.status, joined=False)


class NoteIn(ActionInputs):
    incident_id: str | None = None  # none: nothing to annotate (the step notes it)
    text: str = Field(min_length=1, max_length=2000)


class NoteOut(ActionOutputs):
    incident_id: str | None
    recorded: bool


def annotate(ctx: StepContext, given: NoteIn) -> NoteOut:
    """Add a line to the incident's timeline (the audit log keeps it, bound to the incident)."""
    if not given.incident_id:
        ctx.note("no incident to annotate")
        return NoteOut(incident_id=None, recorded=False)
    row = incidents.get(session=ctx.session, incident_id=given.incident_id)
    _timeline(ctx, row, given.text)
    _record(ctx, "incident.document", row, {"note": given.text})
    return NoteOut(incident_id=row.id, recorded=True)


class ResolveIn(ActionInputs):
    incident_id: str | None = None
    resolution: str = Field(min_length=1, max_length=2000)


def resolving(session: Session, given: ResolveIn) -> dict[str, Any]:
    """What the rules on incident.resolve test, as the API's resolve gives it: the real incident."""
    row = session.get(Incident, given.incident_id) if given.incident_id else None
    return {} if row is None else {"severity": row.severity, "opened_by": row.opened_by}


def resolve(ctx: StepContext, given: ResolveIn) -> NoteOut:
    """Resolve the incident the run worked on (already resolved: nothing to do)."""
    if not given.incident_id:
        ctx.note("no incident to resolve")
        return NoteOut(incident_id=None, recorded=False)
    row = incidents.get(session=ctx.session, incident_id=given.incident_id)
    if row.status != "open":
        ctx.note(f"incident {row.id} was already {row.status}")
        return NoteOut(incident_id=row.id, recorded=False)
    row = incidents.resolve(
        session=ctx.session,
        clock=ctx.tools.clock,
        incident_id=row.id,
        resolution=given.resolution,
        resolved_by=ctx.requester.name,
    )
    _record(ctx, "incident.resolve", row, {"resolution": given.resolution})
    return NoteOut(incident_id=row.id, recorded=True)


class DocumentIn(ActionInputs):
    title: str = Field(min_length=1, max_length=200)
    incident_id: str | None = None
    facts: dict[str, Any] = Field(default_factory=dict)
    caused_by: str | None = Field(default=None, max_length=32)  # the deployment that caused it


class DocumentOut(ActionOutputs):
    record: str
    title: str


def document(ctx: StepContext, given: DocumentIn) -> DocumentOut:
    """The run's record (rollback / post-mortem): written to the audit log with its facts."""
    line = ctx.tools.audit.record(
        ctx.session,
        Requester(ctx.requester.name, ctx.requester.kind),
        operation="incident.document",
        result="success",
        environment=ctx.environment,
        service=ctx.service,
        inputs={"run_id": ctx.run_id, "incident_id": given.incident_id, "title": given.title},
        outputs={"facts": given.facts, "caused_by": given.caused_by},
    )
    if given.incident_id:
        row = incidents.get(session=ctx.session, incident_id=given.incident_id)
        _timeline(ctx, row, f"{given.title} (audit seq {line.seq})")
        if given.caused_by and row.deployment_id is None:
            incidents.link_deployment(
                session=ctx.session, clock=ctx.tools.clock, incident=row,
                deployment_id=given.caused_by, actor=ctx.requester.name,
            )  # fmt: skip
    return DocumentOut(record=f"audit seq {line.seq}", title=given.title)


def _timeline(ctx: StepContext, row: Incident, text: str) -> None:
    incidents.add_event(
        session=ctx.session, clock=ctx.tools.clock, incident=row, kind="playbook_step",
        actor=ctx.requester.name, text=text, data={"run_id": ctx.run_id, "step": ctx.step_id},
    )  # fmt: skip


def _record(ctx: StepContext, operation: str, row: Incident, outputs: dict[str, Any]) -> None:
    if row is None:
        raise ActionFailed("incident not found", retryable=False)
    ctx.tools.audit.record(
        ctx.session,
        Requester(ctx.requester.name, ctx.requester.kind),
        operation=operation,
        result="success",
        environment=row.environment,
        service=row.service,
        inputs={"incident_id": row.id, "run_id": ctx.run_id},
        outputs=outputs,
    )


def actions() -> list[Action[Any, Any]]:
    """The incident actions."""
    return [
        Action("incident.classify", "incident.classify", "classify P1-P4", ClassifyIn,
               ClassifyOut, classify),
        Action("incident.open", "incident.open", "open or join an incident", OpenIn,
               IncidentOut, open_incident),
        Action("incident.annotate", "incident.document", "add to the incident's timeline",
               NoteIn, NoteOut, annotate),
        Action("incident.resolve", "incident.resolve", "resolve the incident", ResolveIn,
               NoteOut, resolve, recorded=resolving),
        Action("incident.document", "incident.document", "write the run's record",
               DocumentIn, DocumentOut, document),
    ]  # fmt: skip
