"""`opsctl actions`: governed changes of the plane itself (overrides, incidents, tokens...).

Each one was decided like a deployment, may wait for humans, and runs once; `approvals` are
the votes on them, this noun is what they are about.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from controlplane.cli._common import JsonOpt, detail_lines, emit_json, mode_style, plane, table
from controlplane.cli.deploy import when
from controlplane.cli.grammar import by_prefix, noun, short_id

if TYPE_CHECKING:
    from controlplane.client import ActionOut, ControlPlaneClient

app = noun("List governed actions (newest first), or show one.")
LISTED = 500  # the most the plane lists at once: prefixes resolve among the newest this many


class Status(StrEnum):
    """Which governed actions to list."""

    pending_approval = "pending_approval"
    approved = "approved"
    executing = "executing"
    succeeded = "succeeded"
    failed = "failed"
    rejected = "rejected"
    expired = "expired"


def _action_ids(client: ControlPlaneClient) -> list[str]:
    return [a["id"] for a in client.actions(limit=LISTED)]


IdArg = Annotated[
    str,
    typer.Argument(
        help="Action id as `opsctl actions list` prints it (any unique start of it).",
        callback=by_prefix("action", _action_ids),
    ),
]


@app.command("list")
def list_actions(
    kind: Annotated[str | None, typer.Option(help="Only this kind, e.g. signal.suppress.")] = None,
    status: Annotated[Status | None, typer.Option(help="Only this status.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """List governed actions, newest first, with who asked and where they stand."""
    with plane() as client:
        out = client.actions(kind, status.value if status else None, limit)
    if json_out:
        emit_json(out)
        return
    rows = [
        (
            short_id(a["id"]),
            a["kind"],
            a["status"],
            a["mode"],
            a["environment"],
            a["requested_by"],
            when(a["created_at"]),
            a["summary"],
        )
        for a in out
    ]
    headers = ("id", "kind", "status", "mode", "env", "by", "requested", "summary")
    typer.echo(table(headers, rows))


@app.command("show")
def show_action(action_id: IdArg, json_out: JsonOpt = False) -> None:
    """Show one governed action: its decision, approval progress and outcome."""
    with plane() as client:
        out = client.get_action(action_id)
    if json_out:
        emit_json(out)
        return
    typer.echo(describe(out))


def describe(a: ActionOut) -> str:
    """An action as people read it: what, decided how, where it stands, what it did."""
    lines = [
        f"{a['id']}  {mode_style(a['mode'])}  {a['kind']}  {a['status']}",
        f"  change     {a['summary']}",
        f"  asked by   {a['requested_by']} ({a['requested_kind']}) at {when(a['created_at'])}",
        f"  approvals  {a['approvals']} of {a['required_approvals']}"
        + (f" (approval {a['approval_id']})" if a["approval_id"] else ""),
    ]
    lines += [f"  why        {r}" for r in a["decision"].get("reasons", [])]
    if a["failure_reason"]:
        lines.append(f"  failed     {a['failure_reason']}")
    if a["outputs"]:
        lines += ["  outputs", *detail_lines(a["outputs"], indent=4)]
    return "\n".join(lines)
