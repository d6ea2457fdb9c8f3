"""Loading policy files: bad files are refused with file, line and field named."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import copy_default_policy

from controlplane.policy.loader import PolicyError, load_policy, policy_version


def _line_of(path: Path, needle: str) -> int:
    """Return the 1-based line where `needle` first appears."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    return copy_default_policy(tmp_path / "policies")


def _refused(policy_dir: Path) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        load_policy(policy_dir)
    return info.value


def test_unknown_mode_names_file_line_and_field(policy_dir: Path) -> None:
    modes = policy_dir / "modes.yaml"
    _replace(
        modes,
        "modes: {dev: AUTO, staging: CONSULT, production: STOP}\n  release.tag",
        "modes: {dev: AUTO, staging: MAYBE, production: STOP}\n  release.tag",
    )
    err = _refused(policy_dir)
    assert err.file.endswith("modes.yaml")
    assert err.line == _line_of(modes, "MAYBE")
    assert err.field == "operations.deploy.modes.staging"
    assert "unknown mode 'MAYBE'" in str(err)


def test_duplicate_operation_is_refused(policy_dir: Path) -> None:
    modes = policy_dir / "modes.yaml"
    modes.write_text(
        modes.read_text() + "  deploy:\n    description: again\n    modes: {default: AUTO}\n"
    )
    err = _refused(policy_dir)
    assert "duplicate key 'deploy'" in str(err)
    assert err.line == len(modes.read_text().splitlines()) - 2
    assert err.field == "operations.deploy"


def test_unknown_environment_is_refused(policy_dir: Path) -> None:
    modes = policy_dir / "modes.yaml"
    _replace(
        modes,
        "modes: {dev: AUTO, staging: AUTO, production: CONSULT}",
        "modes: {dev: AUTO, qa: AUTO, production: CONSULT}",
    )
    err = _refused(policy_dir)
    assert "unknown environment 'qa'" in str(err)
    assert err.field == "operations.scale.modes"
    assert err.line == _line_of(modes, "qa: AUTO")


def test_incomplete_mode_map_is_refused(policy_dir: Path) -> None:
    _replace(
        policy_dir / "modes.yaml",
        "modes: {dev: AUTO, staging: CONSULT, production: STOP}",
        "modes: {dev: AUTO, staging: CONSULT}",
    )
    assert "no mode for production and no `default`" in str(_refused(policy_dir))


def test_unknown_key_is_refused(policy_dir: Path) -> None:
    modes = policy_dir / "modes.yaml"
    _replace(modes, "    description: Sign a release", "    descripton: Sign a release")
    err = _refused(policy_dir)
    assert err.field == "operations.sign.descripton"
    assert err.line == _line_of(modes, "descripton")


def test_unknown_signal_name_is_refused(policy_dir: Path) -> None:
    signals = policy_dir / "signals.yaml"
    _replace(signals, "  recent_rollback:", "  moon_phase:")
    err = _refused(policy_dir)
    assert err.file.endswith("signals.yaml")
    assert "unknown signal 'moon_phase'" in str(err)


def test_unknown_exempt_signal_is_refused(policy_dir: Path) -> None:
    modes = policy_dir / "modes.yaml"
    _replace(
        modes,
        "exempt_signals: [incident_active, recent_rollback]\n  rollback.plan",
        "exempt_signals: [incident_activ, recent_rollback]\n  rollback.plan",
    )
    err = _refused(policy_dir)
    assert err.field == "operations.rollback"
    assert "unknown signal 'incident_activ'" in str(err)


def test_rule_that_could_only_lower_is_refused(policy_dir: Path) -> None:
    rules = policy_dir / "rules.yaml"
    _replace(rules, "operations: [model.metric, retrain]", "operations: [model.promote.production]")
    err = _refused(policy_dir)
    assert err.file.endswith("rules.yaml")
    assert err.field == "rules.6.raise_to"
    assert "rules can only raise" in str(err)


def test_rule_raising_to_auto_is_refused(policy_dir: Path) -> None:
    rules = policy_dir / "rules.yaml"
    text = rules.read_text()
    rules.write_text(text.replace("raise_to: CONSULT", "raise_to: AUTO", 1))
    err = _refused(policy_dir)
    assert err.field == "rules.0"
    assert "rules can only raise" in str(err)


def test_rule_on_unknown_operation_is_refused(policy_dir: Path) -> None:
    rules = policy_dir / "rules.yaml"
    _replace(rules, "operations: [ci.autofix]", "operations: [ci.autofixx]")
    err = _refused(policy_dir)
    assert err.field == "rules.0.operations.0"
    assert err.line == _line_of(rules, "ci.autofixx")


def test_condition_with_two_comparisons_is_refused(policy_dir: Path) -> None:
    rules = policy_dir / "rules.yaml"
    _replace(rules, "{field: files_changed, gt: 5}", "{field: files_changed, gt: 5, lt: 9}")
    err = _refused(policy_dir)
    assert err.field == "rules.0.when.0"
    assert "exactly one of" in str(err)
    assert err.line == _line_of(rules, "lt: 9")


def test_string_where_number_expected_is_refused(policy_dir: Path) -> None:
    _replace(
        policy_dir / "rules.yaml",
        "{field: files_changed, gt: 5}",
        "{field: files_changed, gt: '5'}",
    )
    assert _refused(policy_dir).field == "rules.0.when.0.gt"


def test_yaml_syntax_error_names_the_line(policy_dir: Path) -> None:
    approvals = policy_dir / "approvals.yaml"
    approvals.write_text("modes:\n  CONSULT: {quorum: {default: 1}, ttl: 24h\n")
    err = _refused(policy_dir)
    assert err.file.endswith("approvals.yaml")
    assert err.line is not None and err.line >= 2
    assert "not valid YAML" in str(err)


def test_bad_ttl_and_quorum_are_refused(policy_dir: Path) -> None:
    approvals = policy_dir / "approvals.yaml"
    _replace(approvals, "ttl: 1h", "ttl: soon")
    err = _refused(policy_dir)
    assert (err.field, err.line) == ("modes.STOP.ttl", _line_of(approvals, "ttl: soon"))


def test_missing_and_unexpected_files_are_refused(policy_dir: Path) -> None:
    (policy_dir / "extra.yaml").write_text("x: 1\n")
    assert "unknown policy file" in str(_refused(policy_dir))
    (policy_dir / "extra.yaml").unlink()
    (policy_dir / "approvals.yaml").unlink()
    assert "required policy file is missing" in str(_refused(policy_dir))


def test_version_changes_when_a_policy_file_changes(policy_dir: Path) -> None:
    before = load_policy(policy_dir).version
    assert before == policy_version(policy_dir)
    (policy_dir / "tests" / "base_modes.yaml").write_text("cases: []\n")
    assert load_policy(policy_dir).version == before, "tests/ is not part of the version"
    modes = policy_dir / "modes.yaml"
    modes.write_text(modes.read_text() + "# a comment is a change too\n")
    assert load_policy(policy_dir).version != before
