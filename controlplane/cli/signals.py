"""`opsctl signals`: read live risk signals and override them for a while, with a reason."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from controlplane.cli._common import (
    JsonOpt,
    ServiceOpt,
    detail_lines,
    emit_json,
    plane,
    settled,
    table,
)
from controlplane.cli.grammar import EnvScopeOpt, env_name, noun, pick_record

app = noun("Live risk signals and manual overrides.")

NameArg = Annotated[str, typer.Argument(help="Signal name, e.g. incident_active.")]
EnvOpt = EnvScopeOpt


class OverrideState(StrEnum):
    """What an override asserts."""

    active = "active"
    inactive = "inactive"


@app.command("list")
def list_signals(service: ServiceOpt = None, env: EnvOpt = None, json_out: JsonOpt = False) -> None:
    """Show every signal with its state, source, time and evidence."""
    with plane() as client:
        out = client.signals(service, env_name(env))
    if json_out:
        emit_json(out)
        return
    rows = [
        (s["name"], s["state"], s["source"], s.get("observed_at"), s.get("evidence"))
        for s in out["data"]
    ]
    scope = f" for {out['service']}" if out.get("service") else ""
    typer.echo(f"Signals{scope} (unknown counts as active; disabled means no source configured)")
    typer.echo(table(("signal", "state", "source", "observed", "evidence"), rows))


@app.command("show")
def show_signal(
    name: Annotated[str, typer.Argument(help="Signal name, or any unique start of it.")],
    service: ServiceOpt = None,
    env: EnvOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show one signal's state, source, time and evidence."""
    with plane() as client:
        out = pick_record(name, client.signals(service, env_name(env))["data"], "name", "signal")
    if json_out:
        emit_json(out)
        return
    typer.echo(f"{out['name']}: {out['state']} (source {out['source']})")
    rest = {"observed": out.get("observed_at"), "evidence": out.get("evidence")}
    typer.echo("\n".join(detail_lines(rest, indent=2)))


@app.command("set")
def set_signal(
    name: NameArg,
    ttl: Annotated[str, typer.Option("--ttl", help="How long it holds: 45s, 30m, 2h, 1d.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the audit log).")],
    state: Annotated[
        OverrideState,
        typer.Option(
            "--state",
            help="active raises it (at once); inactive asks humans to suppress it "
            "(signal.suppress: CONSULT, STOP in production; agents and CI are refused).",
        ),
    ] = OverrideState.active,
    service: ServiceOpt = None,
    env: EnvOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Raise a signal for a while, or ask to suppress it (audited; exit 3 while it waits)."""
    with plane() as client:
        out = client.set_signal(
            name,
            ttl=ttl,
            reason=reason,
            state=state.value,
            service=service,
            environment=env_name(env),
        )
    out = settled(out, json_out)
    if json_out:
        emit_json(out)
        return
    scope = f" on {out['service']}" if out.get("service") else ""
    scope += f" in {out['environment']}" if out.get("environment") else ""
    typer.echo(
        f"{out['name']} is {out['state']}{scope} until {out['expires_at']} "
        f"(set by {out['set_by']}: {out['reason']}; audit seq {out['audit_seq']})"
    )


@app.command("clear")
def clear_signal(
    name: NameArg, service: ServiceOpt = None, env: EnvOpt = None, json_out: JsonOpt = False
) -> None:
    """Clear a signal's live overrides (audited); its real source speaks again. Another
    identity's raise is cleared only through signal.suppress (exit 3 while it waits)."""
    with plane() as client:
        out = client.clear_signal(name, service, env_name(env))
    out = settled(out, json_out)
    if json_out:
        emit_json(out)
        return
    count = len(out["cleared"])
    typer.echo(
        f"cleared {count} override{'s' if count != 1 else ''} of {name}; "
        f"its source speaks again (audit seq {out['audit_seq']})"
    )
