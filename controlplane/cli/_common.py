"""Shared CLI plumbing: the API client, error exits, JSON and table output, key=value options.

Kept light (typer and the stdlib only) so `opsctl --help` stays fast; the HTTP client is
imported when a command first needs it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import typer

from controlplane.errors import ControlPlaneError

if TYPE_CHECKING:
    from controlplane.client import ControlPlaneClient
    from controlplane.client_types import ActionOut

T = TypeVar("T")

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_PENDING = 3  # the change was accepted but waits for human approvals
EXIT_STILL_RUNNING = 4  # the wait (--timeout) ended before the rollout did; it goes on

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ServiceOpt = Annotated[
    str | None, typer.Option("--service", "-s", help="Service the action is about.")
]


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Print a plane error's diagnostics to stderr and exit 1 instead of a traceback."""
    try:
        yield
    except ControlPlaneError as exc:
        typer.echo(exc.diagnostics(), err=True)
        raise typer.Exit(EXIT_REFUSED) from None


@contextmanager
def plane() -> Iterator[ControlPlaneClient]:
    """A client configured from the environment, with errors reported for people."""
    from controlplane.client import ControlPlaneClient

    with reporting_errors(), ControlPlaneClient.from_env() as client:
        yield client


def fail(message: str, code: int = EXIT_REFUSED) -> typer.Exit:
    """Print a one-line error to stderr and return the exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def settled(out: T | ActionOut, json_out: bool) -> T:
    """The answer of a governed change that was done; one that waits for humans exits 3."""
    stop_if_pending(out, json_out)
    return cast(T, out)


def stop_if_pending(out: Any, json_out: bool) -> None:
    """A governed change that waits for humans: say why and how many, then exit 3."""
    if not isinstance(out, dict) or out.get("status") != "pending_approval":
        return
    if json_out:
        emit_json(out)
    else:
        typer.echo(out.get("message") or f"pending approval {out.get('approval_id')}")
        typer.echo(
            f"approval id {out.get('approval_id')}: reviewers run `opsctl approvals list` and "
            "`opsctl approve <id>`",
            err=True,
        )
    raise typer.Exit(EXIT_PENDING)


def emit_json(obj: Any) -> None:
    """Print JSON for scripts (stable key order as the API sent it)."""
    typer.echo(json.dumps(obj, indent=2, default=str, ensure_ascii=False))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Render a plain aligned table (no colours, so it pipes and diffs cleanly)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any) -> str:
    """One table cell: '-' for nothing, compact JSON for structures."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return shorten(json.dumps(value, separators=(",", ":"), default=str), 60)
    return str(value)


def shorten(text: str, limit: int) -> str:
    """Cut long text with an ellipsis so tables stay one line per row."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_value(raw: str) -> Any:
    """Read a command-line value as JSON when it is JSON (5, 0.9, true, [..]), else a string."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def parse_pairs(items: Sequence[str], option: str) -> dict[str, Any]:
    """Turn repeated `key=value` options into a dict; a malformed item is a usage error."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r} is not key=value", param_hint=option)
        out[key.strip()] = parse_value(value.strip())
    return out


MODE_COLOURS = {"AUTO": typer.colors.GREEN, "CONSULT": typer.colors.YELLOW}


def mode_style(mode: str) -> str:
    """A mode in bold and its colour (stripped automatically when not a terminal)."""
    return typer.style(mode, fg=MODE_COLOURS.get(mode, typer.colors.RED), bold=True)
