"""`opsctl services`: what runs where, per service and environment."""

from __future__ import annotations

import typer

from controlplane.cli._common import JsonOpt, emit_json, plane, table
from controlplane.cli.deploy import short_ref, when


def services(json_out: JsonOpt = False) -> None:
    """Show each service per environment: live release, status, health, since when, URL."""
    with plane() as client:
        out = client.services()
    if json_out:
        emit_json(out)
        return
    rows = [
        (
            s["service"],
            s["environment"],
            short_ref(s["release"]),
            s["status"],
            s["healthy"],
            when(s["since"]) if s["since"] else None,
            s["url"],
        )
        for s in out
    ]
    typer.echo(table(("service", "env", "release", "status", "healthy", "since", "url"), rows))
