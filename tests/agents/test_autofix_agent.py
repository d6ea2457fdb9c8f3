"""autofix_agent end to end: the plane judges a proposed CI fix by the seed's self-healing rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.autofix_agent import measure
from tests.agents.conftest import People, as_, run_agent

AGENT = "autofix-agent"


def diff(files: dict[str, int]) -> str:
    """A unified diff changing `n` lines in each file."""
    out = []
    for path, n in files.items():
        out += [f"diff --git a/{path} b/{path}", f"--- a/{path}", f"+++ b/{path}", "@@ -1 +1 @@"]
        out += [f"-old {i}" if i % 2 else f"+new {i}" for i in range(n)]
    return "\n".join(out) + "\n"


def test_a_patch_is_measured_as_git_prints_it() -> None:
    text = diff({"a.py": 3, "docs/b.md": 4})
    text += "--- a/gone.txt\n+++ /dev/null\n-bye\n--- /dev/null\n+++ b/new.txt\n+hi\n"
    change = measure(text)
    assert change.paths == ("a.py", "docs/b.md", "gone.txt", "new.txt")
    assert change.lines == 9


@pytest.mark.parametrize(
    ("files", "failure_class", "code", "says"),
    [
        ({"controlplane/cli/runs.py": 6, "README.md": 4}, "formatter_drift", 0, "AUTO"),
        ({f"tests/t{i}.py": 5 for i in range(6)}, "formatter_drift", 3, "more than 5 files"),
        ({"services/common/app.py": 200}, "formatter_drift", 3, "120 lines"),
        ({"tests/conftest.py": 4}, "test_fixture_alignment", 3, "CONSULT in the seed"),
        ({"policies/rules.yaml": 2}, "formatter_drift", 1, "protected path"),
        ({".github/workflows/deploy-prod.yml": 1}, "syntax_config_minor", 1, "protected path"),
        ({"controlplane/identity/service.py": 3}, "formatter_drift", 1, "protected path"),
        ({"src/x.py": 1}, "security_or_auth", 1, "STOP in the seed"),
        ({f"f{i}.py": 30 for i in range(13)}, "formatter_drift", 1, "blast radius"),
    ],
)
def test_the_plane_answers_per_the_ci_self_healing_rules(
    plane_url: str, people: People, tmp_path: Path, files: dict[str, int], failure_class: str,
    code: int, says: str,
) -> None:  # fmt: skip
    patch = tmp_path / "fix.diff"
    patch.write_text(diff(files))
    proc = run_agent("autofix_agent", plane_url, people[AGENT], "--patch", str(patch),
                     "--failure-class", failure_class, timeout=60)  # fmt: skip
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert says in proc.stdout
    with as_(plane_url, people[AGENT]) as agent:
        asked = agent.audit(actor=AGENT, operation="ci.autofix", order="desc", limit=1)["data"]
    assert asked and asked[0]["inputs"]["context"]["failure_class"] == failure_class


def test_paths_and_lines_can_be_given_without_a_patch(plane_url: str, people: People) -> None:
    proc = run_agent("autofix_agent", plane_url, people[AGENT], "--failure-class",
                     "docs_quality_minor", "--path", "docs/agents.md", "--lines", "12",
                     "--json", timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '"final_mode": "AUTO"' in proc.stdout
