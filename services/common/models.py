"""Hand-off schemas the control plane mirrors: drift reports, model validations, manifests."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FeatureKind = Literal["numeric", "categorical", "text"]
Recommendation = Literal["none", "soft", "hard"]
Decision = Literal["promote", "keep", "block"]


class FeatureDrift(BaseModel):
    """Drift of one feature: PSI against its alert threshold, KS for numeric features."""

    model_config = ConfigDict(frozen=True)

    name: str
    psi: float = Field(ge=0)
    threshold: float = Field(gt=0, description="alert threshold; severe is 2x this")
    ks: float | None = Field(default=None, ge=0, le=1)
    kind: FeatureKind


class DriftReport(BaseModel):
    """One drift check of a service over a window; mirrors the plane's DriftReport hand-off."""

    model_config = ConfigDict(frozen=True)

    service: str
    window_start: str
    window_end: str
    features: list[FeatureDrift] = Field(min_length=1)
    any_psi_over_2x_threshold: bool
    max_psi: float = Field(ge=0)
    retrain_recommendation: Recommendation

    @model_validator(mode="after")
    def _consistent(self) -> DriftReport:
        """Refuse a report whose summary fields contradict its features."""
        severe = any(f.psi > 2 * f.threshold for f in self.features)
        if severe != self.any_psi_over_2x_threshold:
            raise ValueError("any_psi_over_2x_threshold disagrees with the features")
        if abs(max(f.psi for f in self.features) - self.max_psi) > 1e-9:
            raise ValueError("max_psi disagrees with the features")
        if severe and self.retrain_recommendation != "hard":
            raise ValueError("a severe drift must recommend a hard retrain")
        return self


class ModelValidation(BaseModel):
    """Champion/challenger result; mirrors the plane's ModelValidation hand-off."""

    model_config = ConfigDict(frozen=True)

    service: str
    champion_version: str
    challenger_version: str
    delta_auc: float
    ci_low: float
    ci_high: float
    mcnemar_p: float = Field(ge=0, le=1)
    n_samples: int = Field(ge=1)
    decision: Decision
    reasons: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered_interval(self) -> ModelValidation:
        """Refuse an interval whose bounds are reversed."""
        if self.ci_low > self.ci_high:
            raise ValueError("ci_low must be <= ci_high")
        return self


class TrainingMeta(BaseModel):
    """How an artifact was produced, so a retrain can be reproduced."""

    seed: int
    rows: int
    sklearn_version: str
    trained_at: str
    model_version: str


class Manifest(BaseModel):
    """The artifact folder's manifest.json: what the model is and what it was trained on."""

    service: str
    model_file: str
    model_sha256: str = Field(pattern=r"^[a-f0-9]{64}$")
    metrics: dict[str, float]
    baseline: dict[str, dict[str, Any]]
    training: TrainingMeta
