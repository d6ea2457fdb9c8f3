"""`opsctl approvals`, `opsctl approve`, `opsctl reject`: the human side of CONSULT and STOP.

The plane enforces who may vote (humans with the approver role, never the requester); this
module shows reviewers what they are agreeing to and what their vote caused.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from controlplane.cli._common import JsonOpt, emit_json, mode_style, plane, shorten
from controlplane.cli.deploy import outcome_text, when
from controlplane.cli.follow import (
    DEFAULT_TIMEOUT_S,
    NoWaitOpt,
    TimeoutOpt,
    exit_code,
    follow,
    note_if_still_running,
)
from controlplane.cli.grammar import by_prefix, noun

if TYPE_CHECKING:
    from controlplane.client import ApprovalOut, ControlPlaneClient, DeploymentOut

app = noun("Review what waits for humans; approve or reject it.")


def _approval_ids(client: ControlPlaneClient) -> set[str]:
    """Pending ones first: listing every status stops at the oldest 500."""
    return {a["id"] for status in ("pending", None) for a in client.approvals(status)}


IdArg = Annotated[
    str,
    typer.Argument(
        help="Approval id as `opsctl approvals list` prints it (any unique start of it).",
        callback=by_prefix("approval", _approval_ids),
    ),
]


class Status(StrEnum):
    """Which approval requests to list."""

    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    expired = "expired"
    voided = "voided"
    all = "all"


@app.command("list")
def list_approvals(
    status: Annotated[Status, typer.Option(help="Which requests ('all' for every one).")] = (
        Status.pending
    ),
    json_out: JsonOpt = False,
) -> None:
    """List approval requests, oldest first, with what each would change and why it waits."""
    with plane() as client:
        out = client.approvals(None if status is Status.all else status.value)
    if json_out:
        emit_json(out)
        return
    if not out:
        typer.echo(f"no {'' if status is Status.all else status.value + ' '}approval requests")
        return
    typer.echo("\n\n".join(describe(a) for a in out))


@app.command("show")
def show_approval(approval_id: IdArg, json_out: JsonOpt = False) -> None:
    """Show one approval request with its explanation, gates and votes."""
    with plane() as client:
        out = client.get_approval(approval_id)
    if json_out:
        emit_json(out)
        return
    typer.echo(describe(out, full=True))


def describe(a: ApprovalOut, *, full: bool = False) -> str:
    """A request as a reviewer reads it: who, what, why, gates, deadline."""
    ex = a["explanation"]
    lines = [
        f"{a['id']}  {mode_style(a['mode'])}  {a['status']}  "
        f"approvals {a['approvals']} of {a['required']}  expires {when(a['expires_at'])}",
        f"  asked by   {a['requester']} ({a['requester_kind']}) at {when(a['created_at'])}",
        f"  change     {a['summary']}",
    ]
    reasons = [str(r) for r in ex.get("reasons", [])]
    lines += [f"  why        {r}" for r in (reasons if full else reasons[:3])]
    if ex.get("counterfactual"):
        lines.append(f"  would be   {ex['counterfactual']}")
    counted = [s["name"] for s in a["risk_snapshot"] if s.get("counted")]
    lines.append(f"  signals    {', '.join(counted) or 'none active'}")
    lines.append(f"  gates      {_gates(ex.get('gates', []), full=full)}".rstrip())
    if a["closed_reason"]:
        lines.append(f"  closed     {a['closed_reason']}")
    for v in a["votes"]:
        comment = f": {v['comment']}" if v["comment"] else ""
        lines.append(f"  vote       {v['verdict']} by {v['approver']}{comment}")
    return "\n".join(lines)


def _gates(gates: list[dict[str, Any]], *, full: bool) -> str:
    """Gate results on one line; every reason when `full`."""
    if not gates:
        return "-"
    parts = [f"{'ok' if g.get('passed') else 'FAIL'} {g.get('name')}" for g in gates]
    if full:
        return "\n" + "\n".join(
            f"    {p}: {g.get('reason', '')}" for p, g in zip(parts, gates, strict=True)
        )
    return shorten(", ".join(parts), 200)


@app.command("approve")
def approve(
    approval_id: IdArg,
    comment: Annotated[str, typer.Option("--reason", "-r", help="Why it is fine.")] = "",
    no_wait: NoWaitOpt = False,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT_S,
    json_out: JsonOpt = False,
) -> None:
    """Approve as a human approver; reaching the quorum runs the change (a deployment is
    followed live: exit 0 succeeded, 1 failed, 3 waits again, 4 still running at --timeout)."""
    with plane() as client:
        out = client.approve(approval_id, comment)
        dep = _started_deployment(client, out)
        if dep is not None and not no_wait:
            dep = follow(client, dep, timeout_s=timeout, json_out=json_out)
        follow_up = _subject_outcome(client, out, dep)
    if json_out:
        emit_json({**out, "deployment": dep} if dep is not None else out)
    else:
        typer.echo(
            f"approved {out['id']} ({out['approvals']} of {out['required']}): {out['status']}"
        )
        if follow_up:
            typer.echo(follow_up)
        if dep is not None and not no_wait:
            note_if_still_running(dep)
    code = exit_code(dep, accepted_ok=no_wait) if dep is not None else 0
    if code:
        raise typer.Exit(code)


def _started_deployment(client: ControlPlaneClient, a: ApprovalOut) -> DeploymentOut | None:
    """The deployment this vote made runnable, if it did."""
    if a["status"] != "approved" or a["subject_kind"] != "deployment":
        return None
    return client.get_deployment(a["subject_id"])


@app.command("reject")
def reject(
    approval_id: IdArg,
    comment: Annotated[str, typer.Option("--reason", "-r", help="Why not (required).")],
    json_out: JsonOpt = False,
) -> None:
    """Reject with a reason; the request ends and nothing changes."""
    with plane() as client:
        out = client.reject(approval_id, comment)
    if json_out:
        emit_json(out)
        return
    typer.echo(f"rejected {out['id']}: {out['summary']} will not happen ({comment})")


def _subject_outcome(
    client: ControlPlaneClient, a: ApprovalOut, dep: DeploymentOut | None = None
) -> str:
    """What the vote caused: the deployment's outcome, or why the approval was voided."""
    if a["status"] == "voided":
        text = f"approval voided: {a['closed_reason'] or '-'}"
        if a["subject_kind"] == "deployment":
            dep = client.get_deployment(a["subject_id"])
            text += f"\nthe request waits again under approval {dep['approval_id']}"
        return text
    if a["status"] == "pending":
        left = a["required"] - a["approvals"]
        return f"waiting for {left} more approver{'s' if left > 1 else ''}"
    if dep is not None:
        return outcome_text(dep)
    return ""
