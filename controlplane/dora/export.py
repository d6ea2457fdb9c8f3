"""DORA's report as people read it: the key list, value formats, table rows and the CSV.

Pure (no I/O): shared by `opsctl dora` and the dashboard's DORA page, so both show the same.
"""

from __future__ import annotations

import csv
import io
from typing import Any

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
