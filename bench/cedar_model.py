"""Translate the control plane's policy into an equivalent Cedar policy set (for the benchmark).

Cedar answers allow/deny, so a three-valued mode is asked as "may this operation run at mode M?"
with the resource `Mode::"AUTO"` or `Mode::"CONSULT"`; the decision's mode is the lowest mode
permitted, and STOP when neither is (an unknown operation has no permit: STOP, as in ours).

At most four policies per operation (Cedar evaluates every policy, so fewer, wider ones are
the fair way to write it):
- `permit` AUTO in the environments whose base is AUTO, `permit` CONSULT where the base is AUTO or
  CONSULT, both guarded by `context has` for required context;
- `forbid` AUTO when any rule fires or any signal in scope (not exempt) counts;
- `forbid` CONSULT when a STOP rule fires, or a counted signal meets a mode that was already
  CONSULT before signals (base CONSULT or a CONSULT rule fired), or a jump-to-STOP signal counts.

Context: numbers go in as Cedar decimals, a string or list of strings as one `|a|b|` string matched
with `like` (Cedar has no "any element matches"); a signal counts when active or unknown, and that
boolean is what the request carries (`sig_<name>`).
"""

from __future__ import annotations

from typing import Any

from controlplane.policy.compiled import CompiledPolicy
from controlplane.policy.models import Environment, Mode
from controlplane.policy.schema import Condition, Rule
from controlplane.risk.signals import SIGNAL_NAMES, SignalReading


def _envs(envs: list[Environment]) -> str:
    return "[" + ", ".join(f'"{e.value}"' for e in envs) + "].contains(context.env)"


def _dec(value: float) -> str:
    return f'decimal("{value:.4f}")'


def _condition(c: Condition) -> str:
    """Render one typed condition as a Cedar expression."""
    ref = f"context.{c.field}"
    if c.glob_any is not None:
        tests = " || ".join(f'{ref} like "*|{g}|*"' for g in c.glob_any)
        return f"(context has {c.field} && ({tests}))"
    if c.between is not None:
        low, high = c.between
        body = f"{ref}.greaterThanOrEqual({_dec(low)}) && {ref}.lessThan({_dec(high)})"
    else:
        methods = {
            "gt": "greaterThan",
            "gte": "greaterThanOrEqual",
            "lt": "lessThan",
            "lte": "lessThanOrEqual",
        }
        op = next(k for k in methods if getattr(c, k) is not None)
        body = f"{ref}.{methods[op]}({_dec(getattr(c, op))})"
    return f"(context has {c.field} && {body})"


def _rule(rule: Rule) -> str:
    """Render a rule's conditions and environment scope."""
    joiner = " || " if rule.match == "any" else " && "
    body = joiner.join(_condition(c) for c in rule.when)
    return f"({_envs(list(rule.environments))} && ({body}))"


def _operation(policy: CompiledPolicy, name: str) -> list[str]:
    """All permits and forbids for one operation."""
    index = policy.index
    op = policy.modes.operations[name]
    act = f'action == Action::"{name}"'
    base = {env: index.entries[(name, env)].base for env in Environment}
    req = "".join(f" && context has {f}" for f in op.requires_context)
    out: list[str] = []
    for mode in (Mode.AUTO, Mode.CONSULT):
        envs = [e for e in Environment if base[e] <= mode]
        if envs:
            out.append(
                f'permit(principal, {act}, resource == Mode::"{mode.name}") '
                f"when {{ {_envs(envs)}{req} }};"
            )
    rules = [r for r in policy.rules.rules if name in r.operations]
    no_auto = [_rule(r) for r in rules]
    no_consult = [_rule(r) for r in rules if r.raise_to is Mode.STOP]
    consult_envs = [e for e in Environment if base[e] is Mode.CONSULT]
    consult_rules = [_rule(r) for r in rules if r.raise_to is Mode.CONSULT]
    pre_consult = " || ".join(([_envs(consult_envs)] if consult_envs else []) + consult_rules)
    for sig in SIGNAL_NAMES:
        envs = [e for e in Environment if index.entries[(name, e)].scopes[sig].applies]
        if not envs:
            continue
        counts = f"({_envs(envs)} && context.sig_{sig})"
        no_auto.append(counts)
        if policy.signals.signals[sig].escalation == "stop":
            no_consult.append(counts)
        elif pre_consult:
            no_consult.append(f"({counts} && ({pre_consult}))")
    for mode, conds in (("AUTO", no_auto), ("CONSULT", no_consult)):
        if conds:
            out.append(
                f'forbid(principal, {act}, resource == Mode::"{mode}") '
                f"when {{ {' || '.join(conds)} }};"
            )
    return out


def cedar_policy_text(policy: CompiledPolicy) -> str:
    """Translate the whole policy into Cedar source text."""
    lines: list[str] = []
    for name in policy.modes.operations:
        lines.extend(_operation(policy, name))
    return "\n".join(lines)


def _value(value: Any) -> Any:
    """Map one context value to Cedar JSON (decimals, joined strings)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return {"__extn": {"fn": "decimal", "arg": f"{value:.4f}"}}
    if isinstance(value, str):
        return f"|{value}|"
    if isinstance(value, list | tuple):
        return "|" + "|".join(str(v) for v in value) + "|"
    raise TypeError(f"unsupported context value {value!r}")


def cedar_requests(
    operation: str,
    env: Environment,
    actor_kind: str,
    context: dict[str, Any],
    readings: list[SignalReading],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Build the AUTO and CONSULT requests for one decision input."""
    ctx: dict[str, Any] = {"env": env.value}
    ctx.update({f"sig_{r.name}": r.state.escalates for r in readings})
    ctx.update({k: _value(v) for k, v in context.items()})
    common = {
        "principal": f'Actor::"{actor_kind}"',
        "action": f'Action::"{operation}"',
        "context": ctx,
    }
    return ({**common, "resource": 'Mode::"AUTO"'}, {**common, "resource": 'Mode::"CONSULT"'})
