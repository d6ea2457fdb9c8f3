"""`opsctl logs`: a service's own log, where the cause of a failed rollout usually is.

The plane reads it from the workload backend (the local backend's log files, or the pod logs
on Kubernetes) and masks secrets; `--follow` keeps asking for what was written since.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from controlplane.cli._common import JsonOpt, emit_json, fail, plane
from controlplane.cli.grammar import EnvOpt

FOLLOW_POLL_S = 1.0


def logs(
    service: Annotated[str, typer.Argument(help="Service, e.g. bankchurn.")],
    env: EnvOpt,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")
    ] = False,
    release: Annotated[
        str | None,
        typer.Option("--release", help="That release's process (e.g. a failed rollout's)."),
    ] = None,
    tail: Annotated[int, typer.Option("--tail", "-n", min=1, max=5000, help="Lines.")] = 100,
    json_out: JsonOpt = False,
) -> None:
    """Show a service's log in an environment: its current process, or a release's."""
    if follow and json_out:
        raise fail("--follow streams lines as they come; use it without --json", 2)
    with plane() as client:
        chunk = client.service_logs(service, env.value, release=release, tail=tail)
        if json_out:
            emit_json(chunk)
            return
        typer.echo(f"# {chunk['source']} ({chunk['release'] or 'no release'})", err=True)
        for line in chunk["lines"]:
            typer.echo(line)
        cursor = chunk["cursor"]
        while follow:
            time.sleep(FOLLOW_POLL_S)
            chunk = client.service_logs(service, env.value, release=release, after=cursor)
            for line in chunk["lines"]:
                typer.echo(line)
            cursor = chunk["cursor"]
