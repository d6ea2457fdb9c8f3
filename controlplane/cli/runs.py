"""`opsctl run "/rollback bankchurn env=production"` and `opsctl runs list|show|cancel|resume`.

A run is followed by default: one line per step as it moves (a live line on a terminal), until
it ends or pauses for humans. Exit codes: 0 succeeded, 1 failed or refused, 3 paused for
approvals, 4 still running when --timeout ran out.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from controlplane.cli._common import (
    EXIT_PENDING,
    EXIT_REFUSED,
    EXIT_STILL_RUNNING,
    JsonOpt,
    emit_json,
    plane,
    shorten,
    table,
)
from controlplane.cli.grammar import by_prefix, noun, short_id

if TYPE_CHECKING:
    from controlplane.client import ControlPlaneClient

app = noun("List, show, cancel and resume playbook runs.")
DONE = ("succeeded", "skipped", "compensated")


def _run_ids(client: ControlPlaneClient) -> list[str]:
    return [r["id"] for r in client.runs(limit=500)]


IdArg = Annotated[
    str,
    typer.Argument(
        help="Run id as `runs list` prints it (any unique start of it).",
        callback=by_prefix("run", _run_ids),
    ),
]
NoWaitOpt = Annotated[
    bool, typer.Option("--no-wait", help="Return once the run is accepted; do not follow it.")
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", min=0.1, help="Stop following after this many seconds."),
]


def run(
    text: Annotated[
        str, typer.Argument(help='The slash command, quoted: "/rollback bankchurn env=prod".')
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan and each step's mode; change nothing.")
    ] = False,
    no_wait: NoWaitOpt = False,
    timeout: TimeoutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run a playbook as a slash command; `/help` lists them, `/NAME --help` shows one's inputs."""
    with plane() as client:
        out = client.command(text, dry_run=dry_run, via="cli")
        if "usage" in out:
            emit_json(out) if json_out else typer.echo(out["usage"])
            return
        if dry_run:
            _print_plan(out, json_out)
            return
        if not json_out:
            typer.echo(f"run {out['id']} of /{out['playbook']} started ({len(out['steps'])} steps)")
        if not no_wait:
            out = _follow(client, out, timeout, json_out)
    _finish(out, json_out, accepted_ok=no_wait)


def _follow(
    client: ControlPlaneClient, run: dict[str, Any], timeout: float | None, json_out: bool
) -> dict[str, Any]:
    seen: dict[str, str] = {}

    def update(current: dict[str, Any]) -> None:
        if json_out:
            return
        for step in current["steps"]:
            if seen.get(step["step_id"]) != step["status"] and step["status"] != "pending":
                seen[step["step_id"]] = step["status"]
                typer.echo(f"  {_step_line(step)}", err=not sys.stdout.isatty())

    return client.wait_for_run(run["id"], timeout_s=timeout, poll_s=0.3, on_update=update)


def _step_line(step: dict[str, Any]) -> str:
    mode = step["mode"] or "-"
    tail = ""
    if step["status"] == "pending_approval":
        tail = f" approval {step['approval_id']} ({step['approvals']}/{step['required_approvals']})"
    elif step["error"]:
        tail = f": {shorten(step['error'], 120)}"
    elif step["approvers"]:
        tail = f" (approved by {', '.join(step['approvers'])})"
    return f"{step['step_id']:<16} {mode:<8} {step['status']}{tail}"


def _finish(run: dict[str, Any], json_out: bool, *, accepted_ok: bool = False) -> None:
    if json_out:
        emit_json(run)
    else:
        typer.echo(run["message"])
    status = run["status"]
    if status == "succeeded" or (accepted_ok and status in ("queued", "running", "waiting")):
        return
    if status == "paused":
        if not json_out:
            typer.echo("approve with `opsctl approve ID` (two other humans for STOP)", err=True)
        raise typer.Exit(EXIT_PENDING)
    if status in ("queued", "running", "waiting"):
        if not json_out:
            typer.echo(f"still {status}; follow it with `opsctl runs show {run['id']}`", err=True)
        raise typer.Exit(EXIT_STILL_RUNNING)
    raise typer.Exit(EXIT_REFUSED)


def _print_plan(plan: dict[str, Any], json_out: bool) -> None:
    if json_out:
        emit_json(plan)
        return
    rows = [
        (
            s["step_id"],
            s["operation"],
            "skip" if s["skipped"] else (s["mode"] or "-"),
            s["required_approvals"] if s["mode"] != "AUTO" else "",
            shorten("; ".join(s["reasons"][1:]) or (s["reasons"][0] if s["reasons"] else ""), 70),
        )
        for s in plan["steps"]
    ]
    typer.echo(table(("STEP", "OPERATION", "MODE", "APPROVALS", "WHY"), rows))
    typer.echo(plan["message"])


@app.command("list")
def list_runs(
    playbook: Annotated[str | None, typer.Option(help="Only runs of this playbook.")] = None,
    status: Annotated[str | None, typer.Option(help="Only runs in this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    json_out: JsonOpt = False,
) -> None:
    """List runs, newest first."""
    with plane() as client:
        out = client.runs(playbook=playbook, status=status, limit=limit)
    if json_out:
        emit_json(out)
        return
    rows = [
        (short_id(r["id"]), r["playbook"], r["status"], r["requested_by"], r["created_at"][:19],
         shorten(r["reason"] or "", 60))
        for r in out
    ]  # fmt: skip
    typer.echo(
        table(("ID", "PLAYBOOK", "STATUS", "BY", "STARTED", "WHY"), rows) if rows else "no runs"
    )


@app.command("show")
def show(run_id: IdArg, json_out: JsonOpt = False) -> None:
    """A run's step timeline: mode, who approved, outputs, errors."""
    with plane() as client:
        out = client.get_run(run_id)
    if json_out:
        emit_json(out)
        return
    typer.echo(f"run {out['id']}  /{out['playbook']}  {out['status']}  by {out['requested_by']}")
    if out["command"]:
        typer.echo(f"command: {out['command']}")
    typer.echo(out["message"])
    for step in out["steps"]:
        typer.echo(f"  {_step_line(step)}")
        for note in step["notes"][-3:]:
            typer.echo(f"      {shorten(note, 110)}")
        if step["outputs"] and step["status"] in DONE:
            typer.echo(f"      outputs: {shorten(str(step['outputs']), 110)}")


@app.command("cancel")
def cancel(
    run_id: IdArg,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (required).")],
    compensate: Annotated[
        bool, typer.Option("--compensate", help="Undo finished steps that say how, newest first.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Cancel a run: the running step finishes, the rest is cancelled."""
    with plane() as client:
        out = client.cancel_run(run_id, reason, compensate=compensate)
    emit_json(out) if json_out else typer.echo(f"cancelling run {out['id']}: {out['message']}")


@app.command("resume")
def resume(
    run_id: IdArg, no_wait: NoWaitOpt = False, timeout: TimeoutOpt = None, json_out: JsonOpt = False
) -> None:
    """Continue a failed run, or one whose approval expired, from the step that stopped."""
    with plane() as client:
        out = client.resume_run(run_id)
        if not no_wait:
            out = _follow(client, out, timeout, json_out)
    _finish(out, json_out, accepted_ok=no_wait)
