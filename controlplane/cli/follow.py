"""Follow a deployment the plane runs off the request: live progress, then the outcome.

The API answers a deploy (or the approval that completes a quorum) at once; the plane's worker
rolls it out. Commands that started one follow it here by default: a live line on a terminal
(state, current step, elapsed), plain lines when piped, all on stderr so stdout keeps the
outcome (or the one JSON document). Exit 0 succeeded, 1 failed or refused, 3 waits for
approvals, 4 still running when `--timeout` ran out (the deployment goes on).
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

from controlplane.cli._common import (
    EXIT_PENDING,
    EXIT_REFUSED,
    EXIT_STILL_RUNNING,
)
from controlplane.client_types import RUNNING

if TYPE_CHECKING:
    from controlplane.client import ControlPlaneClient, DeploymentOut

DEFAULT_TIMEOUT_S = 600.0

NoWaitOpt = Annotated[
    bool, typer.Option("--no-wait", help="Return once the plane accepted it; do not follow.")
]
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout",
        min=0.0,
        help="Stop following after this many seconds (exit 4; the deployment goes on).",
    ),
]


class Progress:
    """Says what a rollout is doing: one rewritten line on a terminal, else a line per change."""

    def __init__(self, *, live: bool) -> None:
        self.live = live
        self.started = time.monotonic()
        self.last = ""

    def update(self, dep: DeploymentOut) -> None:
        """Show the deployment's state and step (plain mode: only when they change)."""
        state = f"{dep['status']}: {dep.get('step') or _waiting(dep)}"
        elapsed = f"{time.monotonic() - self.started:5.1f}s"
        if self.live:
            line = f"\r\x1b[2K{elapsed}  {dep['service']}/{dep['environment']}  {state}"
            sys.stderr.write(line)
            sys.stderr.flush()
        elif state != self.last:
            typer.echo(f"{elapsed}  {state}", err=True)
        self.last = state

    def done(self) -> None:
        """End the live line so what follows starts on its own."""
        if self.live and self.last:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _waiting(dep: DeploymentOut) -> str:
    if dep["status"] == "approved":
        return "waiting for the plane's worker"
    return dep.get("message") or "-"


def follow(
    client: ControlPlaneClient, dep: DeploymentOut, *, timeout_s: float, json_out: bool
) -> DeploymentOut:
    """Poll the deployment until it leaves approved/executing or the timeout passes."""
    if dep["status"] not in RUNNING:
        return dep
    progress = Progress(live=not json_out and sys.stderr.isatty())
    try:
        return client.wait_for_deployment(dep["id"], timeout_s=timeout_s, on_update=progress.update)
    finally:
        progress.done()


def exit_code(dep: DeploymentOut, *, accepted_ok: bool = False) -> int:
    """0 succeeded, 3 waits for approvals, 4 still running (0 when `accepted_ok`: --no-wait),
    1 anything else (failed, refused)."""
    status = dep["status"]
    if status == "succeeded":
        return 0
    if status == "pending_approval":
        return EXIT_PENDING
    if status in RUNNING:
        return 0 if accepted_ok else EXIT_STILL_RUNNING
    return EXIT_REFUSED


def note_if_still_running(dep: DeploymentOut) -> None:
    """Say on stderr what to do when the wait ended before the rollout did."""
    if dep["status"] in RUNNING:
        typer.echo(
            f"deployment {dep['id']} is still {dep['status']}; it goes on in the plane. "
            f"Follow it with `opsctl deployments wait {dep['id']}`",
            err=True,
        )
