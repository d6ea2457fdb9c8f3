"""The pure decision function: base mode, context rules, then ADR-010 signal escalation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from controlplane.policy.compiled import CompiledPolicy, Entry, Scope
from controlplane.policy.models import Decision, DecisionInput, Mode, SignalView
from controlplane.risk.signals import SignalReading, SignalState

ModelT = TypeVar("ModelT", bound=BaseModel)
_new_attr = object.__setattr__
_UNSCOPED = Scope(
    applies=True, note="not in signals.yaml; applied everywhere (fail-closed)", jump_to_stop=False
)


def decide(
    inp: DecisionInput,
    signals: Sequence[SignalReading],
    policy: CompiledPolicy,
    *,
    decision_id: str,
    now: datetime,
) -> Decision:
    """Decide the mode for one operation so every caller gets the same explained answer."""
    index = policy.index
    env = inp.environment
    entry = index.entries.get((inp.operation, env)) or index.unknown[env]
    reasons = [
        entry.base_reason
        if entry.known
        else f"operation {inp.operation} is not in the policy (fail-closed)"
    ]
    fired: list[str] = []
    facts = _facts(inp) if entry.rules or entry.requires else inp.context
    before_signals = _apply_rules(entry, facts, reasons, fired)
    views, counted, jumpers = _read_signals(entry, signals, reasons)
    final = _escalate(before_signals, counted, jumpers, reasons)
    return _instance(
        Decision,
        decision_id=decision_id,
        operation=inp.operation,
        environment=env,
        service=inp.service,
        actor=inp.actor,
        base_mode=entry.base.name,
        final_mode=final.name,
        signals=views,
        reasons=reasons,
        rules_fired=fired,
        required_approvals=index.quorum[(final, env)],
        policy_version=policy.version,
        counterfactual=_counterfactual(entry, before_signals, final, counted, fired),
        decided_at=now,
    )


def _facts(inp: DecisionInput) -> Mapping[str, Any]:
    """What rules test: the context, with `actor_kind` always the caller's real kind."""
    return {**inp.context, "actor_kind": inp.actor_kind}


def _apply_rules(
    entry: Entry, ctx: Mapping[str, Any], reasons: list[str], fired: list[str]
) -> Mode:
    """Raise the base mode by missing required context and matching rules; never lower it."""
    mode = entry.base
    for name in entry.requires:
        if name not in ctx:
            fired.append(f"requires_context:{name}")
            reasons.append(f"required context field {name} is missing; STOP (fail-closed)")
            mode = Mode.STOP
    for rule in entry.rules:
        hits = [c for c in rule.when if c.field in ctx and c.test(ctx[c.field])]
        matched = len(hits) == len(rule.when) if rule.match == "all" else bool(hits)
        if not matched:
            continue
        fired.append(rule.id)
        seen = "; ".join(c.describe(ctx[c.field]) for c in hits)
        effect = (
            f"raises the mode to {rule.raise_to.name}"
            if rule.raise_to > mode
            else f"would raise to {rule.raise_to.name}, already {mode.name}"
        )
        reasons.append(f"rule {rule.id}: {rule.reason} [{seen}]; {effect}")
        mode = max(mode, rule.raise_to)
    return mode


def _read_signals(
    entry: Entry, readings: Sequence[SignalReading], reasons: list[str]
) -> tuple[list[SignalView], list[str], list[str]]:
    """List every reading, and collect the ones that count and the ones that jump to STOP."""
    views: list[SignalView] = []
    counted: list[str] = []
    jumpers: list[str] = []
    disabled: list[str] = []
    for r in readings:
        scope = entry.scopes.get(r.name, _UNSCOPED)
        state = r.state
        counts = False
        if state is SignalState.DISABLED:
            note = "disabled: no source configured; listed but never escalates"
            disabled.append(r.name)
        elif not scope.applies:
            note = f"{state.value}; does not apply: {scope.note}"
        elif state is SignalState.ACTIVE:
            counts, note = True, "active: counts toward escalation"
            reasons.append(f"risk signal {r.name} is active (source {r.source})")
        elif state is SignalState.UNKNOWN:
            counts, note = True, "unknown (source failed or stale): counts as active (fail-closed)"
            reasons.append(
                f"risk signal {r.name} is unknown (source {r.source} failed or is stale) "
                "and counts as active (fail-closed)"
            )
        else:
            note = "inactive"
        if counts:
            counted.append(r.name)
            if scope.jump_to_stop:
                jumpers.append(r.name)
        views.append(
            _instance(
                SignalView,
                name=r.name,
                state=state.value,
                source=r.source,
                observed_at=r.observed_at,
                evidence=dict(r.evidence),
                applies=scope.applies,
                counted=counts,
                note=note,
            )
        )
    if disabled:
        reasons.append(
            f"signal(s) {', '.join(disabled)} disabled (no source configured); they cannot escalate"
        )
    return views, counted, jumpers


def _escalate(mode: Mode, counted: list[str], jumpers: list[str], reasons: list[str]) -> Mode:
    """Apply ADR-010: one step for any counted signal, STOP for a jump signal, never lower."""
    if not counted:
        return mode
    if mode is Mode.STOP:
        reasons.append("mode is already STOP; signals cannot change it")
        return mode
    if jumpers:
        reasons.append(
            f"{', '.join(jumpers)} is configured to jump straight to STOP: {mode.name} -> STOP"
        )
        return Mode.STOP
    final = Mode(mode + 1)
    reasons.append(
        f"{mode.name} -> {final.name}: {len(counted)} counted signal(s) escalate one step "
        "(ADR-010, at most one step)"
    )
    return final


def _counterfactual(
    entry: Entry, before_signals: Mode, final: Mode, counted: list[str], fired: list[str]
) -> str:
    """Say what would change the outcome, so operators know which lever to pull."""
    if final > before_signals:
        names = " and ".join(counted)
        return f"would be {before_signals.name} without {names}"
    if before_signals > entry.base:
        missing = [f.split(":", 1)[1] for f in fired if f.startswith("requires_context:")]
        rules = [f for f in fired if not f.startswith("requires_context:")]
        parts = [f"without rule {', '.join(rules)}"] if rules else []
        parts += [f"with context {', '.join(missing)} provided"] if missing else []
        return f"would be {entry.base.name} {' and '.join(parts)}"
    if not entry.known:
        return "operation is not in the policy; add it to policies/modes.yaml to change the mode"
    if final is Mode.STOP:
        return "base mode STOP from policy; signals cannot lower it"
    return "no signal changed the mode"


def _instance(cls: type[ModelT], **values: Any) -> ModelT:
    """Build a model from values the engine produced itself, skipping validation.

    Same effect as `model_construct` (no defaults needed: every field is passed) at a third of
    its cost; building six models is most of a decision's time. tests/policy checks that the
    result round-trips through `model_validate`.
    """
    obj = cls.__new__(cls)
    _new_attr(obj, "__dict__", values)
    _new_attr(obj, "__pydantic_fields_set__", set(values))
    _new_attr(obj, "__pydantic_extra__", None)
    _new_attr(obj, "__pydantic_private__", None)
    return obj
