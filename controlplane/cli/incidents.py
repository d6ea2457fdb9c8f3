"""`opsctl incidents`: open, list and resolve incidents (open P1/P2 turn incident_active on)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from controlplane.cli._common import (
    JsonOpt,
    ServiceOpt,
    emit_json,
    plane,
    settled,
    table,
)

app = typer.Typer(help="Open, list and resolve incidents.", no_args_is_help=True)


class Severity(StrEnum):
    """Incident severities; P1 and P2 make risky changes need a human."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class Status(StrEnum):
    """Incident status filter."""

    open = "open"
    resolved = "resolved"


@app.command("open")
def open_incident(
    title: Annotated[str, typer.Argument(help="What is wrong, in one line.")],
    severity: Annotated[Severity, typer.Option("--severity", "-p", help="P1..P4.")],
    service: ServiceOpt = None,
    env: Annotated[
        str | None,
        typer.Option("--env", "-e", help="Environment it affects; unset: every environment."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Open an incident; a P1 or P2 makes incident_active active."""
    with plane() as client:
        out = client.open_incident(severity.value, title, service, environment=env)
    out = settled(out, json_out)
    if json_out:
        emit_json(out)
        return
    blocking = " (incident_active is now active)" if out["severity"] in ("P1", "P2") else ""
    typer.echo(f"opened {out['severity']} incident {out['id']}: {out['title']}{blocking}")


@app.command("list")
def list_incidents(
    status: Annotated[Status | None, typer.Option(help="Only open or resolved ones.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List incidents, newest first."""
    with plane() as client:
        out = client.incidents(status.value if status else None)
    if json_out:
        emit_json(out)
        return
    rows = [
        (
            i["id"],
            i["severity"],
            i["status"],
            i.get("service"),
            i.get("environment"),
            i["opened_at"][:19],
            i["title"],
        )
        for i in out
    ]
    headers = ("id", "sev", "status", "service", "env", "opened (utc)", "title")
    typer.echo(table(headers, rows))


@app.command("resolve")
def resolve_incident(
    incident_id: Annotated[str, typer.Argument(help="Incident id.")],
    resolution: Annotated[str, typer.Option("--resolution", "-r", help="What fixed it.")],
    json_out: JsonOpt = False,
) -> None:
    """Resolve an incident with what fixed it (incident.resolve: a human approves it in
    production, and whenever an agent or CI would resolve a P1/P2; exit 3 while it waits)."""
    with plane() as client:
        out = client.resolve_incident(incident_id, resolution)
    out = settled(out, json_out)
    if json_out:
        emit_json(out)
        return
    typer.echo(f"resolved {out['id']} ({out['severity']}) by {out['resolved_by']}")
