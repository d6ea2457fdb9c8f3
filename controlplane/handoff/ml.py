"""ML-side hand-offs: EDA -> training, champion/challenger results, drift reports.

`ModelValidation` and `DriftReport` accept exactly what `services/common/models.py` emits (the plane
mirrors those shapes, never imports them) and recompute every summary instead of trusting it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    field_validator,
)

from controlplane.audit.redact import FreeText
from controlplane.clock import AwareIsoTime
from controlplane.handoff.invariants import SERVICE_PATTERN, Handoff, Invariant, invariant_error

SHA256_CHARS = frozenset("0123456789abcdef")
Verdict = Literal["promote", "keep", "block"]


def _now() -> datetime:
    return datetime.now(UTC)


def _finite(value: float) -> bool:
    return math.isfinite(value)


# ---- EDAHandoff -------------------------------------------------------------------------------


def _leakage_blocked_features(h: EDAHandoff) -> str | None:
    if not h.leakage_gate_passed and not h.blocked_features:
        return "a failed leakage gate must name at least one blocked feature"
    if h.leakage_gate_passed and h.blocked_features:
        return f"a passed leakage gate cannot block features ({', '.join(h.blocked_features)})"
    return None


def _target_not_blocked(h: EDAHandoff) -> str | None:
    if h.target_column in h.blocked_features:
        return f"the target column {h.target_column!r} cannot be a blocked feature"
    return None


class EDAHandoff(Handoff):
    """EDA profiler -> trainer: where the data and baselines are, and which features leak."""

    service: str = Field(pattern=SERVICE_PATTERN)
    dataset_path: str = Field(min_length=1)
    target_column: str = Field(min_length=1)
    baseline_distributions_path: str = Field(min_length=1)
    feature_proposals_path: str = Field(min_length=1)
    schema_proposal_path: str = Field(min_length=1)
    leakage_gate_passed: bool
    blocked_features: tuple[str, ...] = ()
    n_rows: int = Field(default=0, ge=0)
    n_features: int = Field(default=0, ge=0)
    created_at: AwareDatetime = Field(default_factory=_now)

    invariants = (
        Invariant("leakage_blocked_features", _leakage_blocked_features),
        Invariant("target_not_blocked", _target_not_blocked),
    )


# ---- TrainingArtifact -------------------------------------------------------------------------


def _metrics_finite(t: TrainingArtifact) -> str | None:
    bad = sorted(k for k, v in t.metrics.items() if not _finite(v))
    return f"metrics must be finite numbers: {', '.join(bad)}" if bad else None


def _fairness_dir_range(t: TrainingArtifact) -> str | None:
    ok = _finite(t.fairness_dir) and 0.0 <= t.fairness_dir <= 2.0
    return None if ok else f"fairness_dir {t.fairness_dir} must be within [0, 2]"


def _gates_imply_fairness(t: TrainingArtifact) -> str | None:
    if t.quality_gates_passed and t.fairness_dir < 0.80:
        return f"quality gates cannot pass with a disparate impact ratio of {t.fairness_dir} < 0.80"
    return None


class TrainingArtifact(Handoff):
    """Trainer -> builder: the model file, its hash, its metrics and its fairness."""

    service: str = Field(pattern=SERVICE_PATTERN)
    model_path: str = Field(min_length=1)
    model_sha256: str = Field(description="64 lowercase hex")
    run_id: str = Field(min_length=1, max_length=128)
    metrics: dict[str, float]
    fairness_dir: float = Field(description="disparate impact ratio, within [0, 2]")
    quality_gates_passed: bool
    created_at: AwareDatetime = Field(default_factory=_now)

    invariants = (
        Invariant("metrics_finite", _metrics_finite),
        Invariant("fairness_dir_range", _fairness_dir_range),
        Invariant("quality_gates_imply_fairness", _gates_imply_fairness),
    )

    @field_validator("model_sha256")
    @classmethod
    def _sha256(cls, value: str) -> str:
        if len(value) != 64 or not set(value) <= SHA256_CHARS:
            raise invariant_error("model_sha256_format", "model_sha256 must be 64 lowercase hex")
        return value

    def requires_consult(self) -> bool:
        """Whether a human must look: DIR in [0.80, 0.85) or any metric > 0.99 (likely leakage)."""
        return 0.80 <= self.fairness_dir < 0.85 or any(v > 0.99 for v in self.metrics.values())


# ---- ModelValidation --------------------------------------------------------------------------


def expected_verdict(v: ModelValidation) -> Verdict:
    """The seed's ADR-008 rule: block if not non-inferior; promote if better and significant."""
    if v.ci_low <= -v.non_inferiority_margin:
        return "block"
    if v.delta_auc > v.superiority_margin and v.mcnemar_p < v.alpha:
        return "promote"
    return "keep"


def _numbers_finite(v: ModelValidation) -> str | None:
    bad = [k for k in ("delta_auc", "ci_low", "ci_high") if not _finite(getattr(v, k))]
    return f"{', '.join(bad)} must be finite" if bad else None


def _ci_ordered(v: ModelValidation) -> str | None:
    return None if v.ci_low <= v.ci_high else f"ci_low {v.ci_low} > ci_high {v.ci_high}"


def _decision_matches_numbers(v: ModelValidation) -> str | None:
    # `block` may be stricter than the numbers (a failed retrain gate, an undefined AUC): the
    # services emit exactly that, with the reason first. Anything laxer is refused.
    expected = expected_verdict(v)
    if v.decision in (expected, "block"):
        return None
    return (
        f"decision {v.decision!r} contradicts the numbers, which say {expected!r} "
        f"(delta_auc {v.delta_auc}, ci_low {v.ci_low}, mcnemar_p {v.mcnemar_p})"
    )


class ModelValidation(Handoff):
    """Champion/challenger result on one holdout; its decision must follow from its numbers."""

    service: str = Field(pattern=SERVICE_PATTERN)
    champion_version: str = Field(min_length=1)
    challenger_version: str = Field(min_length=1)
    delta_auc: float
    ci_low: float
    ci_high: float
    mcnemar_p: float = Field(ge=0, le=1, allow_inf_nan=False)
    n_samples: int = Field(ge=1)
    decision: Verdict
    reasons: tuple[str, ...] = Field(min_length=1)
    alpha: float = Field(default=0.05, gt=0, lt=1)
    non_inferiority_margin: float = Field(default=0.005, ge=0)
    superiority_margin: float = Field(default=0.005, ge=0)

    invariants = (
        Invariant("validation_numbers_finite", _numbers_finite),
        Invariant("ci_ordered", _ci_ordered),
        Invariant("decision_matches_numbers", _decision_matches_numbers),
    )


# ---- DriftReport ------------------------------------------------------------------------------


class FeatureDrift(BaseModel):
    """Drift of one feature: PSI against its alert threshold (severe is 2x), KS when numeric."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: FreeText = Field(min_length=1, max_length=128)
    psi: StrictFloat = Field(ge=0, allow_inf_nan=False)
    threshold: StrictFloat = Field(gt=0, allow_inf_nan=False, description="alert threshold")
    ks: StrictFloat | None = Field(default=None, ge=0, le=1)
    kind: Literal["numeric", "categorical", "text"] | None = None

    @property
    def severe(self) -> bool:
        """PSI above twice the alert threshold."""
        return self.psi > 2 * self.threshold


def _window_ordered(d: DriftReport) -> str | None:
    if d.window_end < d.window_start:
        return f"window_end {d.window_end} is before window_start {d.window_start}"
    return None


def _unique_features(d: DriftReport) -> str | None:
    names = [f.name for f in d.features]
    dupes = sorted({n for n in names if names.count(n) > 1})
    return f"features listed twice: {', '.join(dupes)}" if dupes else None


def _severe_claim(d: DriftReport) -> str | None:
    claim = d.any_psi_over_2x_threshold
    if claim is None or claim == d.severe:
        return None
    return f"any_psi_over_2x_threshold={claim} but the features say {d.severe}"


def _max_psi_claim(d: DriftReport) -> str | None:
    actual = max(f.psi for f in d.features)
    if d.max_psi is None or abs(d.max_psi - actual) <= 1e-9:
        return None
    return f"max_psi={d.max_psi} but the largest feature PSI is {actual}"


def _severe_needs_hard_retrain(d: DriftReport) -> str | None:
    if d.severe and d.retrain_recommendation != "hard":
        return f"severe drift ({', '.join(d.severe_features())}) must recommend a hard retrain"
    return None


class DriftReport(Handoff):
    """One drift check of a service over a window; `severe` is recomputed, never trusted."""

    service: str = Field(pattern=SERVICE_PATTERN)
    window_start: AwareIsoTime
    window_end: AwareIsoTime
    features: tuple[FeatureDrift, ...] = Field(min_length=1, max_length=10_000)
    retrain_recommendation: Literal["none", "soft", "hard"]
    any_psi_over_2x_threshold: StrictBool | None = Field(
        default=None, description="sender's claim; must agree with the features when given"
    )
    max_psi: StrictFloat | None = Field(default=None, ge=0, description="sender's claim, checked")

    invariants = (
        Invariant("window_ordered", _window_ordered),
        Invariant("unique_features", _unique_features),
        Invariant("severe_matches_features", _severe_claim),
        Invariant("max_psi_matches_features", _max_psi_claim),
        Invariant("severe_requires_hard_retrain", _severe_needs_hard_retrain),
    )

    @property
    def severe(self) -> bool:
        """Any feature's PSI above twice its alert threshold (the drift_severe signal)."""
        return any(f.severe for f in self.features)

    def severe_features(self) -> list[str]:
        """Names of the features over 2x their threshold."""
        return [f.name for f in self.features if f.severe]
