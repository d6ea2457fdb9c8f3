"""Tool hints follow the policy: what can be STOP is destructive and needs the user."""

from __future__ import annotations

from pathlib import Path

import yaml

from controlplane.mcp.annotations import (
    MAX_MODE,
    REQUIRES_USER,
    ToolSpec,
    derive,
    playbook_operations,
    worst_mode,
)

REPO = Path(__file__).resolve().parents[2]
DEPLOY = ToolSpec("request_deployment", "Request a deployment", ("deploy",))


def modes_of_repo_policy() -> dict[str, dict[str, str]]:
    """Base modes per operation and environment, as GET /v1/policies lists them."""
    ops = yaml.safe_load((REPO / "policies" / "modes.yaml").read_text())["operations"]
    return {name: dict(op["modes"]) for name, op in ops.items()}


def test_a_tool_that_can_be_stop_is_destructive_and_needs_the_user() -> None:
    hints = derive(DEPLOY, modes_of_repo_policy())
    assert (hints.read_only, hints.destructive, hints.requires_user) == (False, True, True)
    assert hints.meta(DEPLOY.operations)[MAX_MODE] == "STOP"


def test_the_same_tool_under_a_gentler_policy_is_not() -> None:
    gentle = {"deploy": {"dev": "AUTO", "staging": "AUTO", "production": "CONSULT"}}
    hints = derive(DEPLOY, gentle)
    assert (hints.destructive, hints.requires_user, hints.max_mode) == (False, False, "CONSULT")


def test_an_operation_the_policy_does_not_list_counts_as_stop() -> None:
    assert worst_mode(["never.listed"], {"deploy": {"dev": "AUTO"}}) == "STOP"
    assert worst_mode([], {}) == "AUTO"


def test_read_tools_are_read_only_whatever_the_policy() -> None:
    hints = derive(ToolSpec("list_signals", "Risk signals", read_only=True), {})
    assert hints.read_only and not hints.destructive and hints.meta(())[REQUIRES_USER] is False


def test_playbook_operations_are_every_step_operation() -> None:
    books = [{"steps": [{"operation": "rollback"}, {"operation": "health.verify"}]},
             {"steps": [{"operation": "notify"}]}]  # fmt: skip
    assert playbook_operations(books) == ("health.verify", "notify", "playbook.run", "rollback")
