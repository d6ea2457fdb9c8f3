"""The governed risk actions: raise or clear a signal, suppress one, drift reports and baselines.

Raising a signal is an operator's call (`signal.override`, AUTO by default). Lowering one below
its real source, or clearing another identity's raise, is `signal.suppress`: humans ask, humans
approve, and decisions show the real reading next to it. A drift report only lowers what its own
reporter said; anything else lowers drift_severe only through `drift.baseline.update`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from controlplane.clock import Clock
from controlplane.errors import Conflict, InvalidSpec
from controlplane.governance.kinds import ActionKind, Effect, Requester, Scope, judged_in
from controlplane.handoff.ml import DriftReport
from controlplane.policy.models import Environment
from controlplane.policy.store import PolicyStore
from controlplane.risk import service as risk
from controlplane.risk.models import OverrideOut, SignalOverride, parse_ttl
from controlplane.risk.service import SignalService

Payload = Mapping[str, Any]
SUPPRESS_REFUSAL = (
    "lowering a signal below its real source, or clearing another identity's raise, is for "
    "humans to ask and approve"
)


def _scope(payload: Payload) -> Scope:
    return Scope(judged_in(payload.get("environment")), payload.get("service"))


def override_out(row: SignalOverride) -> dict[str, Any]:
    """An override as the API shows it (and an executed action reports it)."""
    return OverrideOut(
        id=row.id,
        name=row.name,
        state=row.state,
        service=row.service,
        environment=row.environment,
        reason=row.reason,
        set_by=row.set_by,
        approved_by=list(row.approved_by or []),
        expires_at=row.expires_at.isoformat(),
    ).model_dump()


def _summary(payload: Payload) -> str:
    where = f"{payload.get('service') or 'all services'}/{payload.get('environment') or 'all envs'}"
    name = payload["name"]
    if payload["action"] == "clear":
        return f"clear {len(payload['override_ids'])} override(s) of {name} on {where}"
    verb = "raise" if payload["action"] == "raise" else "suppress"
    return f"{verb} {name} on {where} for {payload['ttl']}: {payload['reason']}"


def clearable_by(row: SignalOverride, requester: str) -> bool:
    """Clearing a suppression or one's own raise never lowers what someone else said."""
    return row.state == "inactive" or row.set_by == requester


def kinds(*, clock: Clock, policies: PolicyStore, signals: SignalService) -> list[ActionKind]:
    """The risk kinds, closed over the collaborators their execution uses."""

    def store(effect: Effect, state: str) -> dict[str, Any]:
        p = effect.payload
        if p["action"] == "clear":
            return {
                "cleared": risk.clear(session=effect.session, clock=clock, ids=p["override_ids"])
            }
        row = risk.store_override(
            session=effect.session,
            clock=clock,
            name=p["name"],
            state=state,
            ttl=p["ttl"],
            reason=p["reason"],
            service=p.get("service"),
            environment=p.get("environment"),
            set_by=effect.requester.name,
            approved_by=effect.approvers,
            action_id=effect.action_id,
        )
        return override_out(row)

    def check_override(session: Session, payload: Payload, who: Requester) -> None:
        if payload["action"] == "clear":
            ids = payload["override_ids"]
            for row in risk.live_by_id(session=session, clock=clock, ids=ids):
                if not clearable_by(row, who.name):
                    raise Conflict(
                        f"override {row.id} was set by {row.set_by}; clearing it is "
                        "signal.suppress",
                        {"override_id": row.id, "set_by": row.set_by},
                    )

    def check_suppress(session: Session, payload: Payload, who: Requester) -> None:
        if payload["action"] == "clear":
            return
        policy = policies.current()
        limit = timedelta(seconds=policy.signals.max_suppression if policy else 3600)
        if parse_ttl(payload["ttl"]) > limit:
            raise InvalidSpec(
                f"a suppression holds at most {_hours(limit)} (policies/signals.yaml "
                f"max_suppression), asked {payload['ttl']}",
                {"field": "ttl", "reason": f"at most {int(limit.total_seconds())} s"},
            )

    def explain_suppress(session: Session, payload: Payload) -> dict[str, Any]:
        real = signals.real(payload["name"], payload.get("service"), payload.get("environment"))
        return {
            "real_reading": {
                "state": real.state.value,
                "source": real.source,
                "evidence": dict(real.evidence),
            },
            "would_hide": real.state.escalates,
        }

    def report(effect: Effect) -> dict[str, Any]:
        accepted = risk.accept_drift_report(
            session=effect.session,
            clock=clock,
            report=DriftReport.model_validate(effect.payload["report"]),
            reported_by=effect.requester.name,
        )
        return accepted.model_dump()

    def baseline(effect: Effect) -> dict[str, Any]:
        row = risk.reset_drift_baseline(
            session=effect.session,
            clock=clock,
            service=effect.payload["service"],
            reason=effect.payload["reason"],
            by=effect.requester.name,
            action_id=effect.action_id,
        )
        return {"service": row.service, "reset_at": row.reset_at.isoformat()}

    return [
        ActionKind(
            operation="signal.override",
            scope=_scope,
            summary=_summary,
            execute=lambda effect: store(effect, "active"),
            context=lambda p: {"signal": p["name"], "action": p["action"]},
            check=check_override,
        ),
        ActionKind(
            operation="signal.suppress",
            scope=_scope,
            summary=_summary,
            execute=lambda effect: store(effect, "inactive"),
            humans_only=True,
            refusal=SUPPRESS_REFUSAL,
            context=lambda p: {"signal": p["name"], "action": p["action"]},
            check=check_suppress,
            explain=explain_suppress,
        ),
        ActionKind(
            operation="drift.report",
            scope=lambda p: Scope(Environment.PRODUCTION, p["report"]["service"]),
            summary=lambda p: f"drift report for {p['report']['service']}",
            execute=report,
        ),
        ActionKind(
            operation="drift.baseline.update",
            scope=lambda p: Scope(Environment.PRODUCTION, p["service"]),
            summary=lambda p: f"reset the drift baseline of {p['service']}: {p['reason']}",
            execute=baseline,
        ),
    ]


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g} h"
