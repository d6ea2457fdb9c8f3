"""`opsctl identity`: list and show identities, disable or enable one (admin; audited, at once)."""

from __future__ import annotations

from typing import Annotated

import typer

from controlplane.cli._common import (
    JsonOpt,
    emit_json,
    plane,
    show_record,
    stop_if_pending,
    table,
)
from controlplane.cli.grammar import noun, pick_record

app = noun("List, show, disable and enable identities (admin).")
NameArg = Annotated[str, typer.Argument(help="Identity name, e.g. deploy-bot.")]
ReasonOpt = Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the audit log).")]


@app.command("list")
def list_identities(json_out: JsonOpt = False) -> None:
    """List identities, their kind and roles, and whether they are disabled."""
    with plane() as client:
        out = client.identities()
    if json_out:
        emit_json(out)
        return
    rows = [
        (i["name"], i["kind"], ", ".join(i["roles"]), i["created_at"][:19], i["disabled"])
        for i in out
    ]
    typer.echo(table(("name", "kind", "roles", "created (utc)", "disabled"), rows))


@app.command("show")
def show_identity(
    name: Annotated[str, typer.Argument(help="Identity name, or any unique start of it.")],
    json_out: JsonOpt = False,
) -> None:
    """Show one identity: kind, roles, when it was made and whether it is disabled."""
    with plane() as client:
        out = pick_record(name, client.identities(), "name", "identity")
    show_record(out, json_out, f"{out['name']} ({out['kind']})", ("name", "kind"))


def _switch(name: str, disabled: bool, reason: str, json_out: bool) -> None:
    with plane() as client:
        out = client.set_identity_disabled(name, disabled, reason)
    stop_if_pending(out, json_out)
    if json_out:
        emit_json(out)
        return
    state = "disabled: every token of it is refused" if disabled else "enabled"
    typer.echo(f"{out['name']} is {state} (audit seq {out['audit_seq']})")


@app.command("disable")
def disable(name: NameArg, reason: ReasonOpt, json_out: JsonOpt = False) -> None:
    """Disable an identity: all its tokens are refused at once."""
    _switch(name, True, reason, json_out)


@app.command("enable")
def enable(name: NameArg, reason: ReasonOpt, json_out: JsonOpt = False) -> None:
    """Enable a disabled identity again."""
    _switch(name, False, reason, json_out)
