"""`opsctl dora`: the DORA keys of production, bands next to raw numbers (table, JSON, CSV)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from controlplane.cli._common import EXIT_USAGE, JsonOpt, emit_json, fail, plane, table
from controlplane.dora.export import key_rows, slice_rows, to_csv


def print_report(out: dict[str, Any]) -> None:
    """The readable report: keys with bands, the source of commit times, the splits."""
    where = out["service"] or "every service"
    typer.echo(
        f"DORA, {out['environment']} of {where}, last {out['window_days']} days "
        f"({out['start'][:16]} -> {out['end'][:16]} UTC), bands {out['bands']}"
    )
    typer.echo(table(("key", "value", "band", "counted"), key_rows(out["overall"])))
    source = out["lead_time_source"]
    note = f" ({source['note']})" if source["note"] else ""
    typer.echo(f"\nlead time from: {source['source']}{note}")
    headers = ("deploys", "lead", "cfr", "recovery", "rework", "model")
    for title, slices in (("requester", out["by_requester"]), ("service", out["by_service"])):
        typer.echo("")
        typer.echo(table((title, *headers), slice_rows(slices)))


def dora(
    window: Annotated[int, typer.Option("--window", "-w", help="Days: 7, 30 or 90.")] = 30,
    service: Annotated[
        str | None, typer.Option("--service", "-s", help="One service (default: all).")
    ] = None,
    bands: Annotated[
        str | None, typer.Option("--bands", help="Band table: 2023 (default) or 2024.")
    ] = None,
    json_out: JsonOpt = False,
    csv_out: Annotated[bool, typer.Option("--csv", help="Print the keys as CSV.")] = False,
) -> None:
    """DORA keys of production: raw values, bands, what was left out; by requester and service."""
    if json_out and csv_out:
        raise fail("choose one of --json and --csv", EXIT_USAGE)
    with plane() as client:
        out = client.dora(window=window, service=service, bands=bands)
    if json_out:
        emit_json(out)
    elif csv_out:
        typer.echo(to_csv(out), nl=False)
    else:
        print_report(out)
