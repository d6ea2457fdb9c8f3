"""`opsctl mcp` as a subprocess over stdio (what Claude Code and Cursor spawn), with the SDK's
client: the STOP deployment waits for two humans; no token, or a person's, and it will not start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from tests.mcp.conftest import People, as_

REPO = Path(__file__).resolve().parents[2]
OPSCTL = Path(sys.executable).with_name("opsctl")


def opsctl_mcp(url: str, token: str | None) -> tuple[list[str], dict[str, str]]:
    """The command line and environment an MCP client config gives `opsctl mcp`."""
    command = (
        [str(OPSCTL), "mcp"]
        if OPSCTL.exists()
        else [sys.executable, "-m", "controlplane.cli.main", "mcp"]
    )
    env = {"PYTHONPATH": str(REPO), "CONTROLPLANE_URL": url, "PATH": os.environ["PATH"]}
    if token is not None:
        env["CONTROLPLANE_TOKEN"] = token
    return command, env  # fmt: skip


def test_over_stdio_a_production_deploy_waits_for_two_humans(
    plane_url: str, people: People, soaked: dict[str, Any]
) -> None:
    command, env = opsctl_mcp(plane_url, people["claude-code"])
    params = StdioServerParameters(command=command[0], args=command[1:], env=env, cwd=str(REPO))

    async def main() -> Any:
        async with Client(params) as mcp:
            names = {t.name for t in (await mcp.list_tools()).tools}
            decision = await mcp.call_tool(
                "decide", {"operation": "deploy", "environment": "production"}
            )
            asked = await mcp.call_tool("request_deployment", soaked)
            again = await mcp.call_tool(
                "get_request_status", {"request_id": asked.structured_content["request_id"]}
            )
            return names, decision.structured_content, asked.structured_content, again  # fmt: skip

    names, decision, pending, again = anyio.run(main)
    assert "approve" not in " ".join(names) and len(names) == 9
    assert decision["final_mode"] == "STOP"
    assert pending["status"] == "pending_approval" and pending["quorum"]["required"] == 2
    assert again.structured_content["status"] == "pending_approval"
    with as_(plane_url, people["claude-code"]) as agent:
        dep = agent.get_deployment(pending["request_id"])
        assert dep["status"] == "pending_approval" and dep["requested_by"] == "claude-code"
        audit = agent.audit(actor="claude-code", operation="deploy", order="desc", limit=10)
    assert audit["data"], "the agent's request is in the audit log under its own name"


def _start(url: str, token: str | None) -> subprocess.CompletedProcess[str]:
    command, env = opsctl_mcp(url, token)
    return subprocess.run(command, env=env, cwd=REPO, input="", capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def test_refuses_to_start_without_a_token(plane_url: str) -> None:
    proc = _start(plane_url, None)
    assert proc.returncode != 0
    assert "CONTROLPLANE_TOKEN is not set" in proc.stderr
    assert proc.stdout == ""  # nothing on the protocol channel


def test_refuses_a_rejected_token_and_a_persons_token(plane_url: str, people: People) -> None:
    wrong = _start(plane_url, "cpt_not_a_real_token")
    assert wrong.returncode != 0 and "refused CONTROLPLANE_TOKEN" in wrong.stderr
    human = _start(plane_url, people["alice"])
    assert human.returncode != 0 and "only serves an agent or CI identity" in human.stderr
    assert people["alice"] not in human.stderr  # the secret itself is never printed
