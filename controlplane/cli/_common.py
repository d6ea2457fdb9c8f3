"""Shared CLI plumbing: the API client, error reports, JSON and table output, key=value options.

Every error is reported here, once: with `--json` as one JSON document on stdout
(`{"error": {"code", "message", "details"}}`), otherwise as `error: ...` on stderr with its
details as indented `key: value` lines. Kept light (typer and the stdlib only) so
`opsctl --help` stays fast; the HTTP client is imported when a command first needs it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import typer
from typer import _click as click  # typer 0.29 (pinned) parses with its own copy of click
from typer._click.exceptions import UsageError
from typer._click.globals import get_current_context

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


JSON_META = "opsctl.json"  # ctx.meta key: --json was on the command line


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Report a plane error once (JSON or readable lines) and exit 1 instead of a traceback."""
    try:
        yield
    except ControlPlaneError as exc:
        report(exc, json_requested())
        raise typer.Exit(EXIT_REFUSED) from None


@contextmanager
def plane() -> Iterator[ControlPlaneClient]:
    """A client configured from the environment, with errors reported for people."""
    from controlplane.client import ControlPlaneClient

    with reporting_errors(), ControlPlaneClient.from_env() as client:
        yield client


def fail(message: str, code: int = EXIT_REFUSED) -> typer.Exit:
    """Report a local error (JSON or `error: ...` on stderr) and return the exit to raise."""
    kind = "usage_error" if code == EXIT_USAGE else "cli_error"
    report(ControlPlaneError(message), json_requested(), code=kind)
    return typer.Exit(code)


def wants_json(args: Sequence[str]) -> bool:
    """Whether `--json` is among the options of a command line (not after `--`)."""
    options = list(args)[: list(args).index("--")] if "--" in args else args
    return "--json" in options


def json_requested() -> bool:
    """Whether the running command was asked for JSON (its own flag, else the command line)."""
    ctx = get_current_context(silent=True)
    if ctx is None:
        return False
    if "json_out" in ctx.params:
        return bool(ctx.params["json_out"])
    return bool(ctx.meta.get(JSON_META, False))


def report(exc: ControlPlaneError, json_out: bool, *, code: str | None = None) -> None:
    """Print one error: a JSON document on stdout, or readable lines on stderr."""
    doc = _scrubbed(exc.to_json())
    if code is not None:
        doc["error"]["code"] = code
    if json_out:
        emit_json(doc)
        return
    error = doc["error"]
    head = "error" if code else f"error ({error['code']})"
    lines = [f"{head}: {error['message']}", *detail_lines(error["details"], indent=2)]
    typer.echo("\n".join(lines), err=True)


def report_usage(exc: click.ClickException | ControlPlaneError, json_out: bool) -> int:
    """Report an error raised outside a command's own handling; return the exit code."""
    if isinstance(exc, ControlPlaneError):
        report(exc, json_out)
        return EXIT_REFUSED
    if not json_out:
        _show_click_error(exc)
        return exc.exit_code
    code = "usage_error" if isinstance(exc, UsageError) else "cli_error"
    details = _usage_details(exc)
    report(ControlPlaneError(exc.format_message(), details), True, code=code)
    return exc.exit_code


def _usage_details(exc: click.ClickException) -> dict[str, Any]:
    """Which command and parameter a usage error is about."""
    details: dict[str, Any] = {}
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        details["command"] = ctx.command_path
    param = getattr(exc, "param", None)
    if param is not None:
        details["param"] = " / ".join(param.opts) or param.name
    elif getattr(exc, "param_hint", None):
        details["param"] = str(exc.param_hint)  # type: ignore[attr-defined]
    return details


def _show_click_error(exc: click.ClickException) -> None:
    """Typer's own rendering of a usage error (with rich when installed)."""
    try:
        from typer import rich_utils
    except ImportError:
        exc.show()
        return
    rich_utils.rich_format_error(exc)


def detail_lines(value: Any, indent: int = 0) -> list[str]:
    """Nested details as indented `key: value` and `- item` lines, never a Python repr."""
    pad = " " * indent
    if isinstance(value, dict):
        lines: list[str] = []
        for key, item in value.items():
            if _is_scalar(item):
                lines.append(f"{pad}{key}: {_scalar(item)}")
            elif item:
                lines += [f"{pad}{key}:", *detail_lines(item, indent + 2)]
        return lines
    if isinstance(value, list | tuple):
        return [line for item in value for line in _item_lines(item, indent)]
    return [f"{pad}{_scalar(value)}"]


def _item_lines(item: Any, indent: int) -> list[str]:
    """One list item: `- value`, or a mapping whose first line carries the dash."""
    pad = " " * indent
    if _is_scalar(item):
        return [f"{pad}- {_scalar(item)}"]
    inner = detail_lines(item, indent + 2) or [f"{pad}  -"]
    return [f"{pad}- {inner[0].lstrip()}", *inner[1:]]


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, dict | list | tuple) or not value


def _scalar(value: Any) -> str:
    """A leaf as people read it: '-' for nothing, yes/no for booleans."""
    if value is None or value == "" or value == [] or value == {}:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _scrubbed(doc: dict[str, Any]) -> dict[str, Any]:
    """The error with anything that looks like a secret masked (a last guard, after the client)."""
    from controlplane.audit.redact import redact_text

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return redact_text(value)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        return value

    scrubbed: dict[str, Any] = walk(doc)
    return scrubbed


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


def show_record(
    record: Mapping[str, Any], json_out: bool, head: str, shown: Sequence[str] = ()
) -> None:
    """One record of a `show`: the JSON as the API sent it, or a head line and every field
    the head did not show (`shown`) as indented lines."""
    if json_out:
        emit_json(record)
        return
    typer.echo(head)
    rest = {k: v for k, v in record.items() if k not in shown}
    typer.echo("\n".join(detail_lines(rest, indent=2)))


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
