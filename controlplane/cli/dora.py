"""`opsctl dora`: the DORA keys of production, bands next to raw numbers (table, JSON, CSV)."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

import typer

from controlplane.cli._common import EXIT_USAGE, JsonOpt, emit_json, fail, plane, table

KEYS = (  # field, label, how its value prints
    ("deployment_frequency", "deployment frequency", "per_day"),
    ("deployment_days_per_week", "deployment days", "per_week"),
    ("lead_time", "lead time", "duration"),
    ("change_failure_rate", "change failure rate", "ratio"),
    ("recovery_time", "recovery time", "duration"),
    ("rework_rate", "rework rate", "ratio"),
    ("model_lead_time", "model trained -> prod", "duration"),
)
CSV_FIELDS = ("slice", "name", "key", "value", "unit", "numerator", "denominator",
              "window_days", "band", "left_out")  # fmt: skip


def duration(seconds: float) -> str:
    """Seconds as people read them: 45s, 12m, 3h 20m, 2d 4h."""
    s = round(seconds)
    if abs(s) < 60:
        return f"{s}s"
    if abs(s) < 3600:
        return f"{s // 60}m"
    if abs(s) < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def shown(value: dict[str, Any], style: str) -> str:
    """A key's raw value in its unit ('-' when there was nothing to measure)."""
    v = value["value"]
    if v is None:
        return "-"
    return {
        "per_day": f"{v:.2f}/day",
        "per_week": f"{v:.1f}/week",
        "duration": duration(v),
        "ratio": f"{v * 100:.1f}%",
    }[style]


def counted(key: str, value: dict[str, Any]) -> str:
    """How the value was counted, and what was left out of it."""
    num, den = value["numerator"], value["denominator"]
    if value["unit"] == "seconds":
        text = f"median of {int(den or 0)}"
    elif key == "deployment_days_per_week":
        text = f"{int(num or 0)} days / {den:.1f} weeks"
    else:
        text = f"{int(num or 0)} / {den:g}"
    left = [f"{n} {reason.replace('_', ' ')}" for reason, n in value["left_out"].items() if n]
    return text + (f" ({'; '.join(left)})" if left else "")


def key_rows(keys: dict[str, Any]) -> list[tuple[str, str, str | None, str]]:
    """The keys of one slice as table rows."""
    return [
        (label, shown(keys[field], style), keys[field]["band"], counted(field, keys[field]))
        for field, label, style in KEYS
    ]


def slice_rows(slices: dict[str, Any]) -> list[tuple[Any, ...]]:
    """One line per service or requester kind: the main keys side by side."""
    return [
        (name, *(shown(k[f], style) for f, _, style in KEYS if f != "deployment_days_per_week"))
        for name, k in slices.items()
    ]


def to_csv(out: dict[str, Any]) -> str:
    """Every key of every slice, one CSV row each (the weekly series is in --json)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    slices = [("overall", "all", out["overall"])]
    slices += [("requester", n, k) for n, k in out["by_requester"].items()]
    slices += [("service", n, k) for n, k in out["by_service"].items()]
    for scope, name, keys in slices:
        for field, _, _ in KEYS:
            v = keys[field]
            left = ";".join(f"{r}={n}" for r, n in v["left_out"].items())
            writer.writerow(
                (scope, name, field, v["value"], v["unit"], v["numerator"], v["denominator"],
                 v["window_days"], v["band"] or "", left)
            )  # fmt: skip
    return buf.getvalue()


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
