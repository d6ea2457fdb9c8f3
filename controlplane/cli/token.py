"""`opsctl token`: issue API tokens for people, agents, CI and services (admin)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from controlplane.cli._common import JsonOpt, emit_json, plane, table

app = typer.Typer(help="Issue tokens and list identities (admin).", no_args_is_help=True)


class Kind(StrEnum):
    """Who holds the token; agents and CI can never approve."""

    human = "human"
    agent = "agent"
    ci = "ci"
    service = "service"


class Role(StrEnum):
    """What the holder may do."""

    viewer = "viewer"
    operator = "operator"
    approver = "approver"
    admin = "admin"


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Identity name, e.g. deploy-bot or alice.")],
    kind: Annotated[Kind, typer.Option("--kind", "-k", help="Who holds it.")] = Kind.human,
    role: Annotated[
        list[Role] | None, typer.Option("--role", help="Role, repeatable (default viewer).")
    ] = None,
    ttl_hours: Annotated[
        float | None, typer.Option("--ttl-hours", help="Expire after this many hours.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Issue a token; it is printed once and stored only as a hash."""
    roles = [r.value for r in role] if role else ["viewer"]
    with plane() as client:
        out = client.create_token(name, kind.value, roles, ttl_hours)
    if json_out:
        emit_json(out)
        return
    expiry = f", expires {out['expires_at']}" if out.get("expires_at") else ""
    typer.echo(f"token for {out['name']} ({out['kind']}; {', '.join(out['roles'])}{expiry}):")
    typer.echo(out["token"])
    typer.echo(
        "shown once; the plane keeps only its sha256. Use it as CONTROLPLANE_TOKEN.", err=True
    )


@app.command("list")
def list_identities(json_out: JsonOpt = False) -> None:
    """List identities and their roles (no secrets)."""
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
