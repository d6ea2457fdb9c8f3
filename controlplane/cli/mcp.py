"""`opsctl mcp`: serve the plane to an LLM agent (Claude Code, Cursor) over stdio.

Point the agent's MCP config at this command with CONTROLPLANE_URL and an agent's
CONTROLPLANE_TOKEN (see .mcp.json). The SDK loads only when the command runs. Once serving,
stdout is the protocol's; a refusal to start is reported before anything is served.
"""

from __future__ import annotations

import os

import typer

from controlplane.cli._common import EXIT_REFUSED, JsonOpt, report
from controlplane.errors import ControlPlaneError


def mcp(json_out: JsonOpt = False) -> None:
    """Serve MCP tools over stdio as the agent in CONTROLPLANE_TOKEN (no approve tool)."""
    from controlplane.mcp.server import serve_stdio

    try:
        serve_stdio(os.environ)
    except ControlPlaneError as exc:
        report(exc, json_out)
        raise typer.Exit(EXIT_REFUSED) from None
