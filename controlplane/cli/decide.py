"""`opsctl decide`: ask the plane for AUTO / CONSULT / STOP and show why."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from controlplane.cli._common import (
    JsonOpt,
    ServiceOpt,
    emit_json,
    mode_style,
    parse_pairs,
    plane,
    table,
)
from controlplane.cli.grammar import EnvOpt

ContextOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--context", "-c", help="Context key=value (JSON values ok), repeatable.", metavar="K=V"
    ),
]


def decide(
    operation: Annotated[str, typer.Argument(help="Operation, e.g. deploy, rollback, scale.")],
    env: EnvOpt,
    service: ServiceOpt = None,
    context: ContextOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Decide without recording it in the audit log.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Decide the mode for an operation, with live risk signals, reasons and approvals."""
    ctx = parse_pairs(context or [], "--context")
    with plane() as client:
        decision = client.decide(operation, env.value, service, ctx, dry_run=dry_run)
    if json_out:
        emit_json(decision)
    else:
        typer.echo(render_decision(decision))


def render_decision(d: Mapping[str, Any], *, note: str | None = None) -> str:
    """Explain a decision for people: final mode first, then signals, reasons, what-if."""
    final, base = str(d["final_mode"]), str(d["base_mode"])
    where = f"{d['operation']} in {d['environment']}" + (
        f" for {d['service']}" if d.get("service") else ""
    )
    lines = [f"{mode_style(final)}  {where}", ""]
    lines += _facts(d, final, base)
    if note:
        lines.append(f"  {'note':<19} {note}")
    lines += ["", "Signals", _indent(_signal_table(d.get("signals") or []))]
    lines += ["", "Why"] + [f"  - {r}" for r in d.get("reasons") or []]
    lines += ["", "What would change it", f"  {d.get('counterfactual') or '-'}"]
    return "\n".join(lines)


def _facts(d: Mapping[str, Any], final: str, base: str) -> list[str]:
    """The key/value block under the headline."""
    escalated = " (raised from base)" if final != base else ""
    recorded = (
        f"recorded, audit seq {d['audit_seq']}"
        if d.get("recorded")
        else "not recorded (dry run)"
        if "recorded" in d
        else "offline, not recorded"
    )
    rows = [
        ("final mode", f"{final}{escalated}"),
        ("base mode", base),
        ("required approvals", str(d.get("required_approvals", "-"))),
        ("actor", str(d.get("actor", "-"))),
        ("decision", f"{d.get('decision_id')} ({recorded})"),
        ("policy version", str(d.get("policy_version", ""))[:12]),
    ]
    return [f"  {k:<19} {v}" for k, v in rows]


def _signal_table(signals: list[Mapping[str, Any]]) -> str:
    """One row per signal: state, source, whether it counted and why."""
    if not signals:
        return "(no signals)"
    rows = [(s["name"], s["state"], s.get("source"), _effect(s), s.get("note")) for s in signals]
    return table(("signal", "state", "source", "effect", "note"), rows)


def _effect(signal: Mapping[str, Any]) -> str:
    """How one signal weighed on this decision."""
    if signal.get("counted"):
        return "escalates"
    if signal.get("applies") is False:
        return "not in scope"
    if signal.get("state") == "disabled":
        return "no source"
    return "-"


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())
