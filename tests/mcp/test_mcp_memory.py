"""The MCP server with the SDK's own client, in memory: tools, hints, and STOP held for humans."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from mcp import Client

from controlplane.client import ControlPlaneClient
from controlplane.errors import Forbidden
from controlplane.mcp.annotations import REQUIRES_USER
from controlplane.mcp.server import build_server
from tests.mcp.conftest import People, as_

TOOLS = {
    "decide", "request_deployment", "run_playbook", "get_run", "get_request_status",
    "list_signals", "list_pending_approvals", "get_dora", "query_audit",
}  # fmt: skip


def with_mcp(client: ControlPlaneClient, body: Callable[[Client], Awaitable[Any]]) -> Any:
    """Run `body` against the MCP server of this client's agent, in process."""

    async def main() -> Any:
        async with Client(build_server(client)) as mcp:
            return await body(mcp)

    return anyio.run(main)


def test_tools_are_exactly_the_nine_with_hints_from_the_policy(
    plane_url: str, people: People
) -> None:
    async def body(mcp: Client) -> Any:
        return (await mcp.list_tools()).tools

    with as_(plane_url, people["claude-code"]) as agent:
        tools = {t.name: t for t in with_mcp(agent, body)}
    assert set(tools) == TOOLS
    assert not [n for n in tools if "approve" in n or "suppress" in n or "override" in n]
    for name in TOOLS - {"request_deployment", "run_playbook"}:
        assert tools[name].annotations.read_only_hint is True, name
    deploy = tools["request_deployment"]  # deploy is STOP in production
    assert deploy.annotations.read_only_hint is False
    assert deploy.annotations.destructive_hint is True
    assert deploy.meta[REQUIRES_USER] is True and deploy.meta["io.controlplane/maxMode"] == "STOP"
    run = tools["run_playbook"]  # /rollback's steps are STOP
    assert (
        run.annotations.destructive_hint is True
        and "rollback" in run.meta["io.controlplane/operations"]
    )
    assert tools["decide"].meta[REQUIRES_USER] is False


def test_decide_answers_the_mode_and_is_recorded_under_the_agent(
    plane_url: str, people: People
) -> None:
    async def body(mcp: Client) -> Any:
        args = {"operation": "deploy", "environment": "production", "service": "bankchurn"}
        return (await mcp.call_tool("decide", args)).structured_content

    with as_(plane_url, people["claude-code"]) as agent:
        decision = with_mcp(agent, body)
        assert decision["final_mode"] == "STOP" and decision["required_approvals"] == 2
        assert decision["meaning"].startswith("halted")
        page = agent.audit(actor="claude-code", operation="deploy", limit=5, order="desc")
    assert page["data"][0]["mode"] == "STOP"


def test_a_stop_deployment_waits_for_two_humans_and_the_agent_cannot_push_it(
    plane_url: str, people: People, soaked: dict[str, Any]
) -> None:
    async def ask(mcp: Client) -> Any:
        answer = await mcp.call_tool("request_deployment", soaked)
        approve = await mcp.call_tool("approve", {"approval_id": "x"})
        return answer.structured_content, approve

    with as_(plane_url, people["claude-code"]) as agent:
        pending, approve = with_mcp(agent, ask)
        assert pending["status"] == "pending_approval" and pending["mode"] == "STOP"
        assert pending["quorum"]["required"] == 2 and pending["quorum"]["approvals"] == 0
        assert pending["expires_at"] and pending["approval_id"]
        assert "cannot approve" in pending["message"]
        assert approve.is_error  # there is no such tool
        with pytest.raises(Forbidden):  # nor does the plane let the agent vote another way
            agent.approve(pending["approval_id"], "just ship it")
        refused = agent.audit(actor="claude-code", result="refused", order="desc", limit=5)
        assert any("approve" in r["operation"] for r in refused["data"])

        async def status(mcp: Client) -> Any:
            args = {"request_id": pending["request_id"]}
            return (await mcp.call_tool("get_request_status", args)).structured_content

        assert with_mcp(agent, status)["status"] == "pending_approval"
        for human in ("alice", "bob"):
            with as_(plane_url, people[human]) as reviewer:
                reviewer.approve(pending["approval_id"], "two humans agree")
        agent.wait(pending["request_id"], kind="deployment", timeout_s=30)
        done = with_mcp(agent, status)
    assert done["status"] == "succeeded" and done["environment"] == "production"


def test_refused_gates_come_back_as_a_tool_error_with_the_reasons(
    plane_url: str, people: People
) -> None:
    from tests.delivery.conftest import deploy_body

    async def body(mcp: Client) -> Any:
        return await mcp.call_tool("request_deployment", deploy_body("production"))

    with as_(plane_url, people["claude-code"]) as agent:
        result = with_mcp(agent, body)
    assert result.is_error
    assert "gates_refused" in result.content[0].text


def test_get_dora_is_a_clear_error_or_the_plane_answer(plane_url: str, people: People) -> None:
    async def body(mcp: Client) -> Any:
        return await mcp.call_tool("get_dora", {})

    with as_(plane_url, people["claude-code"]) as agent:
        result = with_mcp(agent, body)
        if not hasattr(agent, "dora"):
            assert result.is_error and "DORA is not available" in result.content[0].text
        else:
            assert not result.is_error


def test_a_release_the_plane_built_ships_with_its_own_audit(
    plane_url: str, people: People, settings: Any, trained: Any
) -> None:
    from controlplane.release.registry import ReleaseRegistry

    ref = ReleaseRegistry(settings.state_dir).build("bankchurn", trained).ref

    async def body(mcp: Client) -> Any:
        args = {"service": "bankchurn", "release": ref}
        dev = await mcp.call_tool("request_deployment", {**args, "environment": "dev"})
        staging = await mcp.call_tool("request_deployment", {**args, "environment": "staging"})
        return dev.structured_content, staging.structured_content

    with as_(plane_url, people["claude-code"]) as agent:
        dev, staging = with_mcp(agent, body)
    assert dev["status"] == "succeeded" and dev["mode"] == "AUTO"  # followed to the end
    assert staging["status"] == "pending_approval" and staging["mode"] == "CONSULT"
    assert staging["quorum"]["required"] == 1


def test_bad_arguments_come_back_as_tool_errors_naming_the_field(
    plane_url: str, people: People
) -> None:
    async def body(mcp: Client) -> Any:
        moon = await mcp.call_tool("decide", {"operation": "deploy", "environment": "moon"})
        missing = await mcp.call_tool("decide", {"environment": "dev"})
        unknown = await mcp.call_tool("get_request_status", {"request_id": "0" * 32})
        return moon, missing, unknown

    with as_(plane_url, people["claude-code"]) as agent:
        moon, missing, unknown = with_mcp(agent, body)
    assert moon.is_error and "environment" in moon.content[0].text  # the plane's 422
    assert missing.is_error and "operation" in missing.content[0].text  # the tool's schema
    assert unknown.is_error and "no deployment, run or governed action" in unknown.content[0].text


def test_a_playbook_step_that_is_stop_answers_pending_approval(
    plane_url: str, people: People
) -> None:
    from tests.delivery.conftest import DIGEST_A, DIGEST_B, deploy_body

    with as_(plane_url, people["olga"]) as olga:
        for digest in (DIGEST_A, DIGEST_B):
            body = deploy_body("dev", digest)
            dep = olga.deploy(body.pop("service"), body.pop("environment"), body.pop("release"))
            assert olga.wait(dep, timeout_s=30)["status"] == "succeeded"

    async def body(mcp: Client) -> Any:
        inputs = {"service": "bankchurn", "environment": "dev", "reason": "bad release"}
        plan = await mcp.call_tool("run_playbook", {"playbook": "rollback", "inputs": inputs,
                                                    "dry_run": True})  # fmt: skip
        started = await mcp.call_tool("run_playbook", {"playbook": "rollback", "inputs": inputs})
        return plan.structured_content, started.structured_content

    with as_(plane_url, people["claude-code"]) as agent:
        plan, pending = with_mcp(agent, body)
    assert plan["status"] == "planned"
    assert {s["step_id"]: s["mode"] for s in plan["steps"]}["execute"] == "STOP"
    assert pending["status"] == "pending_approval" and pending["kind"] == "run"
    assert pending["step"]["id"] == "execute" and pending["mode"] == "STOP"
    assert pending["quorum"]["required"] == 2 and pending["expires_at"]
    assert pending["why"]["reasons"] and pending["why"]["final_mode"] == "STOP"
