"""Every hand-off invariant both ways: the valid payload exists, each violation names itself."""

from __future__ import annotations

from typing import Any

import factories as f
import pytest
from pydantic import BaseModel, ValidationError

from controlplane.handoff import (
    HANDOFF_MODELS,
    BuildArtifact,
    DeploymentRequest,
    DriftReport,
    EDAHandoff,
    IncidentReport,
    ModelValidation,
    SecurityAuditResult,
    TrainingArtifact,
    invariant_error,
)

VALID: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (EDAHandoff, f.eda()),
    (EDAHandoff, f.eda(leakage_gate_passed=True, blocked_features=[])),
    (TrainingArtifact, f.training()),
    (BuildArtifact, f.build()),
    (SecurityAuditResult, f.audit()),
    (SecurityAuditResult, f.audit(high_findings=1, passed=False)),
    (ModelValidation, f.validation()),
    (ModelValidation, f.validation(delta_auc=0.004, decision="keep")),
    (ModelValidation, f.validation(mcnemar_p=0.2, decision="keep")),
    (ModelValidation, f.validation(ci_low=-0.005, decision="block")),
    (ModelValidation, f.validation(decision="block")),  # stricter than the numbers is fine
    (DriftReport, f.drift()),
    (DriftReport, f.drift(any_psi_over_2x_threshold=False, max_psi=0.12)),
    (DeploymentRequest, f.deployment()),
    (
        DeploymentRequest,
        f.deployment(
            environment="local", release="bankchurn:latest", security_audit=None, release_tag=None
        ),
    ),
    (DeploymentRequest, f.deployment(environment="staging", release_tag="main-a1b2c3d")),
    (IncidentReport, f.incident()),
    (IncidentReport, f.incident(resolved_at=None, duration_minutes=None)),
]

BROKEN: list[tuple[type[BaseModel], dict[str, Any], str]] = [
    (EDAHandoff, f.eda(blocked_features=[]), "leakage_blocked_features"),
    (EDAHandoff, f.eda(leakage_gate_passed=True), "leakage_blocked_features"),
    (EDAHandoff, f.eda(blocked_features=["Exited"]), "target_not_blocked"),
    (TrainingArtifact, f.training(model_sha256="A" * 64), "model_sha256_format"),
    (TrainingArtifact, f.training(model_sha256="0" * 63), "model_sha256_format"),
    (TrainingArtifact, f.training(fairness_dir=2.5), "fairness_dir_range"),
    (TrainingArtifact, f.training(fairness_dir=-0.1), "fairness_dir_range"),
    (TrainingArtifact, f.training(metrics={"auc": float("nan")}), "metrics_finite"),
    (TrainingArtifact, f.training(fairness_dir=0.7), "quality_gates_imply_fairness"),
    (BuildArtifact, f.build(release="bankchurn:latest"), "release_pinned"),
    (BuildArtifact, f.build(service="nlpinsight"), "build_matches_training_service"),
    (BuildArtifact, f.build(release="bankchurn@sha256:abc"), "release_ref_format"),
    (SecurityAuditResult, f.audit(release="bankchurn:1"), "release_pinned"),
    (SecurityAuditResult, f.audit(passed=False), "audit_passed_matches_checks"),
    (SecurityAuditResult, f.audit(signature_verified=False), "audit_passed_matches_checks"),
    (SecurityAuditResult, f.audit(sbom_attested=False), "audit_passed_matches_checks"),
    (SecurityAuditResult, f.audit(critical_findings=1), "audit_passed_matches_checks"),
    (SecurityAuditResult, f.audit(high_findings=1), "audit_passed_matches_checks"),
    (SecurityAuditResult, f.audit(secret_findings=1), "audit_passed_matches_checks"),
    (SecurityAuditResult, f.audit(least_privilege_verified=False), "audit_passed_matches_checks"),
    (ModelValidation, f.validation(ci_low=0.04), "ci_ordered"),
    (ModelValidation, f.validation(delta_auc=float("nan")), "validation_numbers_finite"),
    (ModelValidation, f.validation(ci_low=-0.005), "decision_matches_numbers"),
    (ModelValidation, f.validation(delta_auc=0.005), "decision_matches_numbers"),
    (ModelValidation, f.validation(mcnemar_p=0.05), "decision_matches_numbers"),
    (ModelValidation, f.validation(decision="keep"), "decision_matches_numbers"),
    (ModelValidation, f.validation(ci_low=-0.01, decision="keep"), "decision_matches_numbers"),
    (DriftReport, f.drift(window_end="2026-03-04T09:00:00+00:00"), "window_ordered"),
    (DriftReport, f.drift(features=[f.drift()["features"][0]] * 2), "unique_features"),
    (DriftReport, f.drift(any_psi_over_2x_threshold=True), "severe_matches_features"),
    (DriftReport, f.drift(max_psi=0.5), "max_psi_matches_features"),
    (
        DriftReport,
        f.drift(features=[{"name": "Age", "psi": 0.41, "threshold": 0.2}]),
        "severe_requires_hard_retrain",
    ),
    (DeploymentRequest, f.deployment(release="bankchurn:latest"), "release_pinned_outside_dev"),
    (
        DeploymentRequest,
        f.deployment(environment="staging", release="bankchurn:1", security_audit=None),
        "release_pinned_outside_dev",
    ),
    (DeploymentRequest, f.deployment(release_tag=None), "production_requires_release_tag"),
    (DeploymentRequest, f.deployment(release_tag="main-a1b2"), "production_requires_release_tag"),
    (DeploymentRequest, f.deployment(security_audit=None), "audit_required_outside_dev"),
    (
        DeploymentRequest,
        f.deployment(environment="staging", security_audit=None),
        "audit_required_outside_dev",
    ),
    (
        DeploymentRequest,
        f.deployment(security_audit=f.audit(release=f.OTHER_RELEASE)),
        "audit_matches_release",
    ),
    (
        DeploymentRequest,
        f.deployment(environment="dev", security_audit=f.audit(release=f.OTHER_RELEASE)),
        "audit_matches_release",
    ),
    (
        DeploymentRequest,
        f.deployment(security_audit=f.audit(service="nlpinsight")),
        "audit_matches_service",
    ),
    (
        DeploymentRequest,
        f.deployment(security_audit=f.audit(high_findings=3, passed=False)),
        "production_requires_passed_audit",
    ),
    (DeploymentRequest, f.deployment(required_mode="STOP"), "mode_decided_by_plane"),
    (DeploymentRequest, f.deployment(commit_sha="xyz"), "commit_sha_format"),
    (DeploymentRequest, f.deployment(changes=["a1b2c3d", "not-a-sha"]), "commit_sha_format"),
    (DeploymentRequest, f.deployment(release="Bankchurn@sha256:" + f.DIGEST), "release_ref_format"),
    (
        IncidentReport,
        f.incident(resolved_at="2026-03-04T09:00:00+00:00", duration_minutes=None),
        "resolved_after_detected",
    ),
    (IncidentReport, f.incident(duration_minutes=10), "duration_matches_times"),
    (IncidentReport, f.incident(resolved_at=None), "duration_matches_times"),
    (
        IncidentReport,
        f.incident(
            timeline=[{"at": f.AT, "event": "b"}, {"at": "2026-03-04T09:00:00Z", "event": "a"}]
        ),
        "timeline_ordered",
    ),
]


@pytest.mark.parametrize(("model", "payload"), VALID, ids=lambda v: getattr(v, "__name__", ""))
def test_a_valid_handoff_exists(model: type[BaseModel], payload: dict[str, Any]) -> None:
    obj = model.model_validate(payload)
    assert model.model_validate_json(obj.model_dump_json()) == obj  # round-trips through JSON


@pytest.mark.parametrize(
    ("model", "payload", "name"), BROKEN, ids=[f"{m.__name__}-{n}" for m, _, n in BROKEN]
)
def test_a_broken_invariant_refuses_and_names_itself(
    model: type[BaseModel], payload: dict[str, Any], name: str
) -> None:
    with pytest.raises(ValidationError) as info:
        model.model_validate(payload)
    messages = [e["msg"] for e in info.value.errors()]
    assert any(m.startswith(f"invariant {name}: ") for m in messages), messages


def test_every_model_checks_at_least_one_invariant() -> None:
    broken = {m for m, _, _ in BROKEN}
    assert broken == set(HANDOFF_MODELS.values())


def test_invariant_errors_share_one_spelling() -> None:
    err = invariant_error("x_y", "because")
    assert (err.type, err.message()) == ("invariant", "invariant x_y: because")


def test_all_violations_of_a_request_are_reported_together() -> None:
    payload = f.deployment(release="bankchurn:latest", release_tag=None, security_audit=None)
    with pytest.raises(ValidationError) as info:
        DeploymentRequest.model_validate(payload)
    names = [e["ctx"]["invariant"] for e in info.value.errors()]
    assert names == [
        "release_pinned_outside_dev",
        "production_requires_release_tag",
        "audit_required_outside_dev",
    ]


def test_a_nested_audit_error_points_at_the_audit() -> None:
    with pytest.raises(ValidationError) as info:
        DeploymentRequest.model_validate(f.deployment(security_audit=f.audit(passed=False)))
    assert info.value.errors()[0]["loc"] == ("security_audit",)


def test_handoffs_are_frozen_and_refuse_unknown_fields() -> None:
    audit = SecurityAuditResult.model_validate(f.audit())
    with pytest.raises(ValidationError):
        audit.passed = False  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs"):
        SecurityAuditResult.model_validate(f.audit(trivy_critical=0))
