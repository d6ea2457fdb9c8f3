"""The IDE integration files are code too: every slash command runs a playbook that exists, and
the MCP config starts `opsctl mcp` with an agent token taken from the environment."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
COMMANDS = REPO / ".claude" / "commands"
EXPECTED = {"rollback", "secret-breach", "incident", "drift-check", "performance-review",
            "retrain", "release"}  # fmt: skip


def playbook_names() -> set[str]:
    """The names the plane loads from playbooks/."""
    return {yaml.safe_load(p.read_text())["name"] for p in (REPO / "playbooks").glob("*.yaml")}


def test_every_slash_command_runs_an_existing_playbook_through_opsctl() -> None:
    files = {p.stem: p.read_text() for p in COMMANDS.glob("*.md")}
    assert set(files) == EXPECTED
    known = playbook_names()
    for name, text in files.items():
        front = yaml.safe_load(text.split("---")[1])
        assert front["description"] and front["argument-hint"], name
        runs = set(re.findall(r'opsctl run "/([a-z-]+) \$ARGUMENTS"', text))
        assert runs == {name}, f"{name}.md runs {runs}"
        assert name in known, f"{name}.md names no playbook in playbooks/"
        assert "approve ID" in text and "never try to approve" in text


def test_the_mcp_config_starts_opsctl_mcp_with_a_token_from_the_environment() -> None:
    config = json.loads((REPO / ".mcp.json").read_text())
    server = config["mcpServers"]["controlplane"]
    assert server["command"].endswith("opsctl") and server["args"] == ["mcp"]
    env = server["env"]
    assert set(env) == {"CONTROLPLANE_URL", "CONTROLPLANE_TOKEN"}
    assert re.fullmatch(r"\$\{[A-Z_]+\}", env["CONTROLPLANE_TOKEN"])  # never a literal token
    assert "cpt_" not in json.dumps(config)


def test_the_mode_table_in_agents_md_is_the_policy() -> None:
    """AGENTS.md tells agents what is AUTO, CONSULT and STOP: it must say what modes.yaml says."""
    modes = yaml.safe_load((REPO / "policies" / "modes.yaml").read_text())["operations"]
    text = (REPO / "AGENTS.md").read_text()
    rows = re.findall(r"^\| `([a-z._]+)` \| (\w+) \| (\w+) \| (\w+) \|$", text, re.MULTILINE)
    assert len(rows) >= 20
    for operation, *documented in rows:
        per_env = modes[operation]["modes"]
        actual = [
            per_env.get(env, per_env.get("default")) for env in ("dev", "staging", "production")
        ]
        assert documented == actual, operation
