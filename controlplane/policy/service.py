"""Decisions: gather live signals, run the pure engine, record the answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator
from sqlmodel import Session

from controlplane.audit import service as audit
from controlplane.audit.recorder import Recorder
from controlplane.audit.redact import FreeJson
from controlplane.clock import Clock
from controlplane.deploy.facts import KNOWN_SERVICES, require_known_service
from controlplane.errors import NotFound
from controlplane.identity.models import Principal
from controlplane.metrics import PlaneMetrics
from controlplane.policy import engine
from controlplane.policy.models import Decision, DecisionInput, Environment, Mode, SignalView
from controlplane.policy.store import PolicyStore
from controlplane.risk.service import SignalService
from controlplane.risk.signals import SignalReading

NO_POLICY_VERSION = "0" * 64
# A question is recorded under the operation it asks about, with this result: it changed nothing.
ANSWERED = "answered"


class DecisionRequest(BaseModel):
    """Ask the plane what mode an operation gets (the actor is the caller)."""

    model_config = ConfigDict(extra="forbid")

    operation: str = Field(min_length=1, max_length=128, pattern=r"^[a-z0-9][a-z0-9._:-]*$")
    environment: Environment
    # Checked by require_known_service (the deployments' check), so the hot path parses plainly.
    service: str | None = Field(default=None, json_schema_extra={"enum": [*KNOWN_SERVICES, None]})
    context: FreeJson = Field(default_factory=dict)
    dry_run: StrictBool = False

    @field_validator("environment", mode="before")
    @classmethod
    def _env(cls, value: Any) -> Environment:
        return Environment.parse(value)


class DecisionOut(Decision):
    """A decision plus whether it was recorded in the audit log."""

    recorded: bool
    audit_seq: int | None = None

    @classmethod
    def of(cls, decision: Decision, audit_seq: int | None) -> DecisionOut:
        """Wrap an already-validated decision without validating it again."""
        return cls.model_construct(
            **dict(decision), recorded=audit_seq is not None, audit_seq=audit_seq
        )


def to_input(principal: Principal, request: DecisionRequest) -> DecisionInput:
    """The engine's input: the request, acted by the caller, about a service the plane runs."""
    require_known_service(request.service)
    return DecisionInput(
        operation=request.operation,
        environment=request.environment,
        service=request.service,
        actor=principal.name,
        actor_kind=principal.kind,
        context=request.context,
    )


class Decider:
    """Decides with the policy in force and live signals; with no valid policy, STOP."""

    def __init__(
        self, *, policies: PolicyStore, signals: SignalService, clock: Clock, metrics: PlaneMetrics
    ) -> None:
        self.policies = policies
        self.signals = signals
        self.clock = clock
        self._metrics = metrics

    def decide(self, inp: DecisionInput, readings: list[SignalReading] | None = None) -> Decision:
        """The decision for one input (reads the signals of its service and environment)."""
        if readings is None:
            readings = self.signals.readings(inp.service, inp.environment)
        policy = self.policies.current()
        decision_id = uuid.uuid4().hex
        if policy is None:
            return self._no_policy(inp, readings, decision_id)
        decision = engine.decide(
            inp, readings, policy, decision_id=decision_id, now=self.clock.now()
        )
        self._metrics.decisions.labels(decision.final_mode, decision.environment.value).inc()
        return decision

    async def decide_async(self, inp: DecisionInput) -> Decision:
        """The same, reading the signals without holding a thread (the hot path)."""
        readings = await self.signals.readings_async(inp.service, inp.environment)
        return self.decide(inp, readings)

    def _no_policy(
        self, inp: DecisionInput, readings: list[SignalReading], decision_id: str
    ) -> Decision:
        """Fail closed when no policy ever loaded."""
        reason = f"no valid policy is loaded ({self.policies.last_error}); everything is STOP"
        return Decision(
            decision_id=decision_id,
            operation=inp.operation,
            environment=inp.environment,
            service=inp.service,
            actor=inp.actor,
            base_mode=Mode.STOP.name,
            final_mode=Mode.STOP.name,
            signals=[SignalView.of(r, applies=True, counted=False, note="") for r in readings],
            reasons=[reason],
            required_approvals=2,
            policy_version=NO_POLICY_VERSION,
            counterfactual="fix the policy files; nothing can be AUTO without a policy",
            decided_at=self.clock.now(),
        )


def audit_fields(
    decision: Decision, request: DecisionRequest, signals: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """What the audit log keeps of a decision (`signals`: already dumped, if at hand).

    The result is `answered`, never `requested`: asking is not doing, and the log must tell a
    question about `deploy` from a deployment request.
    """
    return {
        "operation": decision.operation,
        "result": ANSWERED,
        "environment": decision.environment.value,
        "service": decision.service,
        "base_mode": decision.base_mode,
        "final_mode": decision.final_mode,
        "signals": [s.model_dump(mode="json") for s in decision.signals]
        if signals is None
        else signals,
        "decision_id": decision.decision_id,
        "inputs": {"context": request.context},
        "outputs": {
            "reasons": decision.reasons,
            "required_approvals": decision.required_approvals,
            "counterfactual": decision.counterfactual,
        },
        "policy_version": decision.policy_version,
    }


def decide(
    *, decider: Decider, audit: Recorder, principal: Principal, request: DecisionRequest
) -> DecisionOut:
    """Decide for the caller and, unless dry-run, record it (blocking; for threads and scripts)."""
    decision = decider.decide(to_input(principal, request))
    if request.dry_run:
        return DecisionOut.of(decision, None)
    line = audit.record_alone(principal, **audit_fields(decision, request))
    return DecisionOut.of(decision, line.seq)


async def decide_json_async(
    *, decider: Decider, audit: Recorder, principal: Principal, request: DecisionRequest
) -> bytes:
    """Decide and record without holding a thread; the response body, serialized once.

    The body is the decision's JSON plus `recorded` and `audit_seq` (DecisionOut's last two
    fields, so the bytes equal DecisionOut's own JSON), and the record's signals are read back
    from that JSON instead of being dumped a second time.
    """
    decision = await decider.decide_async(to_input(principal, request))
    body = decision.__pydantic_serializer__.to_json(decision)
    if request.dry_run:
        return body[:-1] + b',"recorded":false,"audit_seq":null}'
    signals = orjson.loads(body)["signals"]
    line = await audit.record_alone_async(
        principal, **audit_fields(decision, request, signals=signals)
    )
    return body[:-1] + b',"recorded":true,"audit_seq":%d}' % line.seq


def find_recorded(*, session: Session, decision_id: str) -> DecisionOut:
    """A recorded decision, rebuilt from its audit record (the log is the decision store)."""
    page = audit.list_records(
        session=session, limit=1, decision_id=decision_id, operation=None, result=ANSWERED
    )
    if not page.data:
        raise NotFound(f"decision {decision_id} was not recorded (dry-run decisions are not)")
    line = page.data[0]
    return DecisionOut(
        decision_id=decision_id,
        operation=line.operation,
        environment=line.environment,
        service=line.service,
        actor=line.agent,
        base_mode=line.base_mode or "",
        final_mode=line.mode or "",
        signals=line.signals,
        reasons=line.outputs.get("reasons", []),
        required_approvals=line.outputs.get("required_approvals", 0),
        policy_version=line.policy_version or "",
        counterfactual=line.outputs.get("counterfactual", ""),
        decided_at=datetime.fromisoformat(line.timestamp),
        recorded=True,
        audit_seq=line.seq,
    )
