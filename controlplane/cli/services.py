"""`opsctl services`: what runs where, per service and environment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from controlplane.cli._common import JsonOpt, emit_json, plane, table
from controlplane.cli.deploy import short_ref, when

if TYPE_CHECKING:
    from controlplane.client import ServiceStatusOut

HEADERS = ("service", "env", "release", "status", "healthy", "since", "url")


def services(json_out: JsonOpt = False) -> None:
    """Show each service per environment: live release, status, health, since when, address."""
    with plane() as client:
        out = client.services()
    if json_out:
        emit_json(out)
        return
    rows = [_row(s) for s in out]
    if any(s.get("detail") for s in out):  # why a service is down, when the plane knows
        rows = [(*row, s.get("detail")) for row, s in zip(rows, out, strict=True)]
        typer.echo(table((*HEADERS, "detail"), rows))
        return
    typer.echo(table(HEADERS, rows))


def _row(s: ServiceStatusOut) -> tuple[Any, ...]:
    """One service in one environment, as the table shows it."""
    since = when(s["since"]) if s["since"] else None
    return (
        s["service"],
        s["environment"],
        short_ref(s["release"]),
        s["status"],
        s["healthy"],
        since,
        s["url"],
    )
