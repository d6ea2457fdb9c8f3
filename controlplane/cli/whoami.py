"""`opsctl whoami`: which identity this shell's token acts as, and where the token came from."""

from __future__ import annotations

import typer

from controlplane.cli._common import JsonOpt, emit_json, plane


def whoami(json_out: JsonOpt = False) -> None:
    """Show the identity, kind and roles of the token in use."""
    with plane() as client:
        out = client.whoami()
        source, url = client.token_source, client.url
    if json_out:
        emit_json(out)
        return
    typer.echo(f"{out['name']} ({out['kind']}) roles: {', '.join(out['roles'])}")
    typer.echo(f"plane {url}, token from {source}")
