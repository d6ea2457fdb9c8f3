"""`opsctl incidents`: open, list, show, note, update, resolve; a P1/P2 turns incident_active on."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from controlplane.cli._common import (
    JsonOpt,
    ServiceOpt,
    emit_json,
    plane,
    settled,
    table,
)
from controlplane.cli.grammar import EnvScopeOpt, by_prefix, env_name, noun, short_id

if TYPE_CHECKING:
    from controlplane.client import ControlPlaneClient

app = noun("Open, list, show, note, update and resolve incidents.")


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


def _incident_ids(client: ControlPlaneClient) -> list[str]:
    return [i["id"] for i in client.incidents()]


IdArg = Annotated[
    str,
    typer.Argument(
        help="Incident id as `incidents list` prints it (any unique start of it).",
        callback=by_prefix("incident", _incident_ids),
    ),
]


@app.command("open")
def open_incident(
    title: Annotated[str, typer.Argument(help="What is wrong, in one line.")],
    severity: Annotated[Severity, typer.Option("--severity", "-p", help="P1..P4.")],
    service: ServiceOpt = None,
    env: EnvScopeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Open an incident; a P1 or P2 makes incident_active active."""
    with plane() as client:
        out = client.open_incident(severity.value, title, service, environment=env_name(env))
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
            short_id(i["id"]),
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


@app.command("show")
def show_incident(incident_id: IdArg, json_out: JsonOpt = False) -> None:
    """Show one incident: what, where, its alerts, the causing deployment and its timeline."""
    with plane() as client:
        out = client.incident(incident_id)
    if json_out:
        emit_json(out)
        return
    _print_incident(out)


def _print_incident(out: dict[str, Any]) -> None:
    typer.echo(f"{out['id']}  {out['severity']}  {out['status']}: {out['title']}")
    where = f"{out.get('service') or 'every service'} in {out.get('environment') or 'every env'}"
    typer.echo(f"  {where}; source {out['source']}; opened by {out['opened_by']}")
    if out.get("deployment_id"):
        typer.echo(f"  caused by deployment {out['deployment_id']}")
    for alert in out.get("alerts", []):
        typer.echo(f"  alert {alert['alertname']} ({alert['severity']}) {alert['status']}")
    rows = [(e["at"][:19], e["kind"], e["actor"], e["text"]) for e in out.get("timeline", [])]
    if rows:
        typer.echo(table(("at (utc)", "what", "who", "text"), rows))


@app.command("note")
def note_incident(
    incident_id: IdArg,
    text: Annotated[str, typer.Argument(help="The line to add to the timeline.")],
    json_out: JsonOpt = False,
) -> None:
    """Add a line to an incident's timeline."""
    with plane() as client:
        out = client.note_incident(incident_id, text)
    if json_out:
        emit_json(out)
        return
    typer.echo(f"noted on {out['id']}")


@app.command("update")
def update_incident(
    incident_id: IdArg,
    deployment: Annotated[
        str | None, typer.Option("--deployment", help="The deployment id that caused it.")
    ] = None,
    mitigated: Annotated[bool, typer.Option("--mitigated", help="Mark it mitigated.")] = False,
    severity: Annotated[
        Severity | None, typer.Option("--severity", "-p", help="A higher severity (never lower).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Link the causing deployment (DORA reads it), mark it mitigated, or raise its severity."""
    with plane() as client:
        out = client.update_incident(
            incident_id,
            deployment_id=deployment,
            mitigated=mitigated or None,
            severity=severity.value if severity else None,
        )
    if json_out:
        emit_json(out)
        return
    _print_incident(out)


@app.command("resolve")
def resolve_incident(
    incident_id: IdArg,
    resolution: Annotated[str, typer.Option("--reason", "-r", help="What fixed it.")],
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
