"""`opsctl policy lint|test|explain` work offline on a directory; no plane needed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .conftest import REPO, Opsctl

POLICIES = REPO / "policies"


def _broken_copy(tmp_path: Path) -> tuple[Path, int]:
    """Copy the policies and put an invalid mode on one line; return the dir and that line."""
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    modes = target / "modes.yaml"
    lines = modes.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if "modes: {default: AUTO}" in line)
    lines[index] = lines[index].replace("AUTO", "MAYBE")
    modes.write_text("\n".join(lines) + "\n")
    return target, index + 1


def test_policy_test_runs_the_table_cases(offline_opsctl: Opsctl) -> None:
    result = offline_opsctl("policy", "test", "--dir", str(POLICIES))
    assert result.exit_code == 0, result.output
    assert "policy cases passed" in result.stdout
    report = json.loads(offline_opsctl("policy", "test", "--dir", str(POLICIES), "--json").stdout)
    assert report["ok"] and report["total"] >= 40 and report["failures"] == []


def test_policy_test_defaults_to_controlplane_policy_dir(offline_opsctl: Opsctl) -> None:
    assert offline_opsctl("policy", "test").exit_code == 0


def test_lint_accepts_the_repo_policies(offline_opsctl: Opsctl) -> None:
    result = offline_opsctl("policy", "lint", "--dir", str(POLICIES))
    assert result.exit_code == 0, result.output
    assert "is valid" in result.stdout


def test_lint_names_file_line_and_field_of_a_broken_copy(
    offline_opsctl: Opsctl, tmp_path: Path
) -> None:
    broken, line = _broken_copy(tmp_path)
    result = offline_opsctl("policy", "lint", "--dir", str(broken))
    assert result.exit_code == 1
    assert f"modes.yaml:{line}:" in result.stderr
    assert "MAYBE" in result.stderr
    as_json = json.loads(offline_opsctl("policy", "lint", "--dir", str(broken), "--json").stdout)
    assert as_json["ok"] is False and as_json["error"]["code"] == "policy_invalid"
    where = as_json["error"]["details"]
    assert where["file"].endswith("modes.yaml") and where["line"] == line
    assert where["field"].startswith("operations.")


def test_policy_test_refuses_a_broken_policy(offline_opsctl: Opsctl, tmp_path: Path) -> None:
    broken, line = _broken_copy(tmp_path)
    result = offline_opsctl("policy", "test", "--dir", str(broken))
    assert result.exit_code == 1
    assert f"modes.yaml:{line}:" in result.stderr


def test_failing_case_exits_1_and_names_it(offline_opsctl: Opsctl, tmp_path: Path) -> None:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    (target / "tests" / "zz_wrong.yaml").write_text(
        "cases:\n  - name: prod deploy is not AUTO\n    operation: deploy\n"
        "    environment: production\n    expect: {final_mode: AUTO}\n"
    )
    result = offline_opsctl("policy", "test", "--dir", str(target))
    assert result.exit_code == 1
    assert "FAIL zz_wrong.yaml :: prod deploy is not AUTO" in result.stdout


def test_explain_runs_the_engine_offline(offline_opsctl: Opsctl) -> None:
    args = ["policy", "explain", "deploy", "--env", "dev", "--service", "bankchurn"]
    result = offline_opsctl(*args, "--signal", "incident_active=active")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("CONSULT  deploy in dev for bankchurn")
    assert "offline, not recorded" in result.stdout
    assert "would be AUTO without incident_active" in result.stdout


def test_explain_counts_unknown_as_active_and_honours_context(offline_opsctl: Opsctl) -> None:
    unknown = offline_opsctl(
        "policy", "explain", "deploy", "--env", "dev", "--signal", "drift_severe=unknown", "--json"
    )
    assert json.loads(unknown.stdout)["final_mode"] == "CONSULT"
    leak = offline_opsctl(
        "policy",
        "explain",
        "retrain",
        "--env",
        "dev",
        "-c",
        "primary_metric=0.995",
        "--json",
    )
    assert leak.exit_code == 0, leak.output
    assert json.loads(leak.stdout)["final_mode"] == "STOP"


def test_explain_rejects_unknown_signal_and_state_as_usage(offline_opsctl: Opsctl) -> None:
    bad_name = offline_opsctl("policy", "explain", "deploy", "--env", "dev", "--signal", "x=active")
    assert bad_name.exit_code == 2
    assert "unknown signal x" in bad_name.output
    bad_state = offline_opsctl(
        "policy", "explain", "deploy", "--env", "dev", "--signal", "off_hours=on"
    )
    assert bad_state.exit_code == 2
    bad_env = offline_opsctl("policy", "explain", "deploy", "--env", "moon")
    assert bad_env.exit_code == 2
    assert "environment" in bad_env.stderr
