"""The governed incident actions: opening one (never blocked) and resolving one (policy-gated)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from controlplane.clock import Clock
from controlplane.governance.kinds import ActionKind, Effect, Requester, Scope, judged_in
from controlplane.incident import service as incidents
from controlplane.incident.models import IncidentCreate

Payload = Mapping[str, Any]


def kinds(*, clock: Clock) -> list[ActionKind]:
    """`incident.open` and `incident.resolve`, closed over the clock."""

    def open_(effect: Effect) -> dict[str, Any]:
        request = IncidentCreate.model_validate(effect.payload)
        row = incidents.create(
            session=effect.session, clock=clock, request=request, opened_by=effect.requester.name
        )
        return dict(incidents.outputs(row))

    def resolve(effect: Effect) -> dict[str, Any]:
        row = incidents.resolve(
            session=effect.session,
            clock=clock,
            incident_id=effect.payload["incident_id"],
            resolution=effect.payload["resolution"],
            resolved_by=effect.requester.name,
        )
        return dict(incidents.outputs(row))

    def still_open(session: Session, payload: Payload, who: Requester) -> None:
        incidents.get_open(session=session, incident_id=payload["incident_id"])

    return [
        ActionKind(
            operation="incident.open",
            scope=lambda p: Scope(judged_in(p.get("environment")), p.get("service")),
            summary=lambda p: f"open a {p['severity']} incident: {p['title']}",
            execute=open_,
            context=lambda p: {"severity": p["severity"]},
        ),
        ActionKind(
            operation="incident.resolve",
            scope=lambda p: Scope(judged_in(p["environment"]), p["service"]),
            summary=lambda p: f"resolve {p['severity']} incident {p['incident_id']}: {p['title']}",
            execute=resolve,
            # the rules see severity and who opened it; `actor_kind` is always the real one
            context=lambda p: {"severity": p["severity"], "opened_by": p["opened_by"]},
            check=still_open,
        ),
    ]
