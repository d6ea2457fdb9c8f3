"""The shipped policy: every file loads and the table tests in policies/tests pass."""

from __future__ import annotations

from pathlib import Path

from factories import POLICIES, copy_default_policy, decide_for

from controlplane.policy.loader import POLICY_FILES, load_policy
from controlplane.policy.testing import run_policy_tests
from controlplane.risk.signals import SIGNAL_NAMES, SignalState


def test_every_policy_file_loads() -> None:
    assert sorted(p.name for p in POLICIES.glob("*.yaml")) == sorted(POLICY_FILES)
    policy = load_policy(POLICIES)
    assert len(policy.version) == 64


def test_policy_table_tests_pass_and_cover_every_operation_and_signal() -> None:
    report = run_policy_tests(POLICIES)
    assert report.ok, report.render()
    assert report.total >= 40
    assert set(load_policy(POLICIES).modes.operations) <= report.operations
    assert set(SIGNAL_NAMES) <= report.signals


def test_a_failing_case_names_file_case_expected_and_got(tmp_path: Path) -> None:
    root = copy_default_policy(tmp_path / "policies")
    (root / "tests" / "wrong.yaml").write_text(
        "cases:\n  - name: deploy to production is AUTO\n    operation: deploy\n"
        "    environment: production\n    expect: {final_mode: AUTO}\n"
    )
    report = run_policy_tests(root)
    assert not report.ok
    text = report.render()
    assert "wrong.yaml :: deploy to production is AUTO" in text
    assert "expected final_mode=AUTO" in text and "got      final_mode=STOP" in text


def test_seed_operations_have_their_seed_modes() -> None:
    policy = load_policy(POLICIES)
    assert decide_for(policy, "deploy", "local").final_mode == "AUTO"
    assert decide_for(policy, "terraform.plan", "production").final_mode == "AUTO"
    assert decide_for(policy, "rollback", "dev").final_mode == "STOP"
    assert decide_for(policy, "model.promote.production", "dev").final_mode == "STOP"
    assert decide_for(policy, "unheard.of", "dev").final_mode == "STOP"


def test_decision_carries_the_fields_other_programs_read() -> None:
    policy = load_policy(POLICIES)
    decision = decide_for(policy, "deploy", "staging", {"off_hours": SignalState.ACTIVE})
    data = decision.model_dump(mode="json")
    for key in (
        "decision_id",
        "operation",
        "environment",
        "service",
        "actor",
        "base_mode",
        "final_mode",
        "signals",
        "reasons",
        "required_approvals",
        "policy_version",
        "counterfactual",
    ):
        assert key in data
    assert data["policy_version"] == policy.version
    assert data["counterfactual"] == "would be CONSULT without off_hours"
    assert {"name", "state", "source", "observed_at", "evidence"} <= set(data["signals"][0])


def test_decision_round_trips_through_validation() -> None:
    """decide() builds its models without validation; the result must still be a valid Decision."""
    from controlplane.policy.models import Decision

    policy = load_policy(POLICIES)
    decision = decide_for(
        policy,
        "ci.autofix",
        "production",
        {"drift_severe": SignalState.UNKNOWN},
        {"files_changed": 7, "lines_changed": 3, "paths": ["README.md"]},
    )
    assert Decision.model_validate(decision.model_dump()) == decision
    assert Decision.model_validate_json(decision.model_dump_json()) == decision
