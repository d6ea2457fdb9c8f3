"""`opsctl mcp`: the plane served to LLM agents over stdio with the official MCP SDK (2.x).

The server is one agent identity (CONTROLPLANE_TOKEN, never the admin token file) talking to
the plane through the HTTP client; it refuses to start without a token, with a token the plane
rejects, or with a human's or admin's token (an LLM must not act with a person's powers).
"""

from __future__ import annotations

from collections.abc import Mapping

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

from controlplane.client import TOKEN_ENV, ControlPlaneClient, WhoAmI
from controlplane.errors import ControlPlaneError, Unauthenticated
from controlplane.mcp.annotations import derive, playbook_operations
from controlplane.mcp.tools import PlaneTools

SERVER_NAME = "controlplane"
AGENT_KINDS = frozenset({"agent", "ci"})
INSTRUCTIONS = """\
You operate ML services only through this control plane. Before acting, call `decide`.
AUTO: go ahead through `request_deployment` or `run_playbook`. CONSULT / STOP: the answer is
`pending_approval` with a request id, the quorum and the expiry; humans approve (you cannot:
there is no approve tool, and no tool lowers a risk signal). Poll `get_request_status`, or
tell the engineer which approval to review. Everything you do is in the audit log under your
own identity."""


class NotStartable(ControlPlaneError):
    """The MCP server cannot serve with this environment (no token, or not an agent's)."""

    code = "mcp_not_startable"
    status = 401


def client_from_env(env: Mapping[str, str]) -> ControlPlaneClient:
    """A client for the agent in CONTROLPLANE_TOKEN; no fall back to the admin token file."""
    if not env.get(TOKEN_ENV, "").strip():
        raise NotStartable(
            f"{TOKEN_ENV} is not set: the MCP server acts as one agent identity. Issue one with "
            "`opsctl token create NAME --kind agent --role operator` and put it in the MCP "
            "client's config (see .mcp.json)",
            {"token": f"set {TOKEN_ENV}"},
        )
    return ControlPlaneClient.from_env(env)


def check_identity(client: ControlPlaneClient) -> WhoAmI:
    """Who the server acts as; refuse a rejected token, a human's or an admin's."""
    try:
        me = client.whoami()
    except Unauthenticated as exc:
        raise NotStartable(f"the plane refused {TOKEN_ENV}: {exc.message}", exc.details) from exc
    if me["kind"] not in AGENT_KINDS or "admin" in me["roles"]:
        raise NotStartable(
            f"{TOKEN_ENV} belongs to {me['name']} ({me['kind']}, roles {', '.join(me['roles'])}); "
            "the MCP server only serves an agent or CI identity without admin, so an LLM never "
            "acts with a person's powers",
            {"identity": me["name"], "kind": me["kind"]},
        )
    return me


def build_server(client: ControlPlaneClient) -> MCPServer:
    """The MCP server for this client's agent: nine tools annotated from the policy in force."""
    me = check_identity(client)
    modes = client.policies()["operations"]
    ops = playbook_operations(client.playbooks()["data"])
    server = MCPServer(
        SERVER_NAME,
        title="ML ops control plane",
        instructions=INSTRUCTIONS,
        version="0.1.0",
        log_level="WARNING",
    )
    for spec, fn in PlaneTools(client, ops).table():
        hints = derive(spec, modes)
        server.add_tool(
            fn,
            name=spec.name,
            title=spec.title,
            description=(fn.__doc__ or "").replace("\n        ", " "),
            annotations=ToolAnnotations(
                title=hints.title,
                read_only_hint=hints.read_only,
                destructive_hint=hints.destructive,
                idempotent_hint=hints.idempotent,
                open_world_hint=False,
            ),
            meta={**hints.meta(spec.operations), "io.controlplane/actsAs": me["name"]},
            structured_output=True,
        )
    return server


def serve_stdio(env: Mapping[str, str]) -> None:
    """Build the server from the environment and serve it on stdin/stdout until EOF."""
    client = client_from_env(env)
    with client:
        build_server(client).run("stdio")
