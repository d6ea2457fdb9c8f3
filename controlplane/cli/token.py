"""`opsctl token`: issue, list, show and revoke API tokens for people, agents, CI and services."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from controlplane.cli._common import (
    EXIT_PENDING,
    JsonOpt,
    emit_json,
    plane,
    show_record,
    stop_if_pending,
    table,
)
from controlplane.cli.grammar import by_prefix, noun, pick_record, short_id

if TYPE_CHECKING:
    from controlplane.client import ControlPlaneClient

app = noun("Issue, list, show and revoke API tokens (admin).")


def _token_ids(client: ControlPlaneClient) -> list[str]:
    return [t["id"] for t in client.tokens()]


IdArg = Annotated[
    str,
    typer.Argument(
        help="Token id as `opsctl token list` prints it (any unique start of it).",
        callback=by_prefix("token", _token_ids),
    ),
]
ReasonOpt = Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the audit log).")]


class Kind(StrEnum):
    """Who holds the token; agents and CI can never approve."""

    human = "human"
    agent = "agent"
    ci = "ci"
    service = "service"


class Role(StrEnum):
    """What the holder may do."""

    viewer = "viewer"
    operator = "operator"
    approver = "approver"
    admin = "admin"


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Identity name, e.g. deploy-bot or alice.")],
    kind: Annotated[Kind, typer.Option("--kind", "-k", help="Who holds it.")] = Kind.human,
    role: Annotated[
        list[Role] | None, typer.Option("--role", help="Role, repeatable (default viewer).")
    ] = None,
    ttl_hours: Annotated[
        float | None, typer.Option("--ttl-hours", help="Expire after this many hours.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Issue a token; it is printed once and stored only as a hash."""
    roles = [r.value for r in role] if role else ["viewer"]
    with plane() as client:
        out = client.create_token(name, kind.value, roles, ttl_hours)
    if json_out:
        emit_json(out)
        return
    expiry = f", expires {out['expires_at']}" if out.get("expires_at") else ""
    typer.echo(f"token for {out['name']} ({out['kind']}; {', '.join(out['roles'])}{expiry}):")
    typer.echo(out["token"])
    typer.echo(
        "shown once; the plane keeps only its sha256. Use it as CONTROLPLANE_TOKEN.", err=True
    )
    if out.get("status") == "pending_approval":
        typer.echo(
            f"it works once approved: approval id {out['approval_id']} "
            "(token.issue waits for humans)",
            err=True,
        )
        raise typer.Exit(EXIT_PENDING)


@app.command("list")
def list_tokens(json_out: JsonOpt = False) -> None:
    """List tokens: id, prefix, holder, expiry, revocation (never a secret)."""
    with plane() as client:
        out = client.tokens()
    if json_out:
        emit_json(out)
        return
    rows = [
        (
            short_id(t["id"]),
            t["prefix"] + "...",
            t["identity"],
            t["kind"],
            t["created_at"][:19],
            (t.get("expires_at") or "")[:19],
            (t.get("revoked_at") or "")[:19],
        )
        for t in out
    ]
    headers = ("id", "prefix", "identity", "kind", "created (utc)", "expires", "revoked")
    typer.echo(table(headers, rows))


@app.command("show")
def show(token_id: IdArg, json_out: JsonOpt = False) -> None:
    """Show one token: holder, roles, prefix, expiry and revocation (never its secret)."""
    with plane() as client:
        out = pick_record(token_id, client.tokens(), "id", "token")
    head = f"token {out['id']} ({out['prefix']}...) of {out['identity']}"
    show_record(out, json_out, head, ("id", "prefix", "identity"))


@app.command("revoke")
def revoke(
    token_id: IdArg,
    reason: ReasonOpt,
    json_out: JsonOpt = False,
) -> None:
    """Revoke a token: refused at once, on every replica (audited)."""
    with plane() as client:
        out = client.revoke_token(token_id, reason)
    stop_if_pending(out, json_out)
    if json_out:
        emit_json(out)
        return
    typer.echo(f"revoked token {out['id']} at {out['revoked_at']} (audit seq {out['audit_seq']})")
