"""Valid payloads for every hand-off, as dicts, so a test can break exactly one field."""

from __future__ import annotations

from typing import Any

DIGEST = "ab" * 32
RELEASE = f"bankchurn@sha256:{DIGEST}"
OTHER = f"bankchurn@sha256:{'cd' * 32}"
AT = "2026-03-04T10:00:00+00:00"


def eda(**o: Any) -> dict[str, Any]:
    """An EDA hand-off whose leakage gate blocked one feature."""
    return {
        "service": "bankchurn",
        "dataset_path": "data/churn.csv",
        "target_column": "Exited",
        "baseline_distributions_path": "baseline.json",
        "feature_proposals_path": "features.yaml",
        "schema_proposal_path": "schema.yaml",
        "leakage_gate_passed": False,
        "blocked_features": ["CustomerId"],
        "n_rows": 10_000,
        "n_features": 10,
        "created_at": AT,
    } | o


def training(**o: Any) -> dict[str, Any]:
    """A training artifact that passed its gates."""
    return {
        "service": "bankchurn",
        "model_path": "artifacts/bankchurn/model.joblib",
        "model_sha256": "0" * 64,
        "run_id": "run-1",
        "metrics": {"roc_auc": 0.86, "f1": 0.61},
        "fairness_dir": 0.9,
        "quality_gates_passed": True,
        "created_at": AT,
    } | o


def build(**o: Any) -> dict[str, Any]:
    """A pinned build of that training artifact."""
    return {
        "service": "bankchurn",
        "release": RELEASE,
        "sbom_path": "sbom.cdx.json",
        "training_artifact": training(),
        "created_at": AT,
    } | o


def audit(**o: Any) -> dict[str, Any]:
    """A passed audit of RELEASE."""
    return {
        "service": "bankchurn",
        "release": RELEASE,
        "signature_verified": True,
        "sbom_attested": True,
        "critical_findings": 0,
        "high_findings": 0,
        "secret_findings": 0,
        "least_privilege_verified": True,
        "passed": True,
        "created_at": AT,
    } | o


def validation(**o: Any) -> dict[str, Any]:
    """A challenger that is clearly better: promote."""
    return {
        "service": "bankchurn",
        "champion_version": "1",
        "challenger_version": "2",
        "delta_auc": 0.02,
        "ci_low": 0.004,
        "ci_high": 0.035,
        "mcnemar_p": 0.01,
        "n_samples": 4000,
        "decision": "promote",
        "reasons": ["better"],
    } | o


def drift(**o: Any) -> dict[str, Any]:
    """A drift report with one warning-level feature."""
    return {
        "service": "bankchurn",
        "window_start": AT,
        "window_end": "2026-03-04T11:00:00+00:00",
        "features": [
            {"name": "Age", "psi": 0.12, "threshold": 0.2, "ks": 0.05, "kind": "numeric"},
            {"name": "Geography", "psi": 0.01, "threshold": 0.2},
        ],
        "retrain_recommendation": "soft",
    } | o


def deployment(**o: Any) -> dict[str, Any]:
    """A valid production request."""
    return {
        "service": "bankchurn",
        "environment": "production",
        "release": RELEASE,
        "release_tag": "v1.2.3",
        "commit_sha": "a1b2c3d",
        "commit_time": AT,
        "security_audit": audit(),
        "reason": "quarterly retrain",
        "changes": ["a1b2c3d", "e4f5a6b7"],
    } | o


def incident(**o: Any) -> dict[str, Any]:
    """A resolved P2 incident."""
    return {
        "incident_id": "inc-1",
        "service": "bankchurn",
        "environment": "production",
        "severity": "P2",
        "summary": "error rate above SLO",
        "detected_at": AT,
        "resolved_at": "2026-03-04T10:45:00+00:00",
        "duration_minutes": 45,
        "timeline": [{"at": AT, "event": "alert fired"}],
        "root_cause": "bad release",
        "action_items": ["add a canary"],
    } | o
