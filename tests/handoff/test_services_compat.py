"""What the ML services emit is a valid hand-off on the plane's side (mirrored, not shared)."""

from __future__ import annotations

import factories as f
import numpy as np
import pytest
from pydantic import ValidationError

from controlplane.handoff import DriftReport, ModelValidation
from services.common import champion
from services.common.models import DriftReport as ServiceDrift
from services.common.models import FeatureDrift as ServiceFeature
from services.common.models import ModelValidation as ServiceValidation


def service_drift(psi: float) -> ServiceDrift:
    """A drift report exactly as a service builds it."""
    feature = ServiceFeature(name="Age", psi=psi, threshold=0.2, ks=0.1, kind="numeric")
    severe = psi > 0.4
    return ServiceDrift(
        service="bankchurn",
        window_start="2026-03-04T10:00:00.000+00:00",
        window_end="2026-03-04T11:00:00.000+00:00",
        features=[feature],
        any_psi_over_2x_threshold=severe,
        max_psi=psi,
        retrain_recommendation="hard" if psi >= 0.2 else "none",
    )


@pytest.mark.parametrize(("psi", "severe"), [(0.05, False), (0.3, False), (0.45, True)])
def test_a_service_drift_report_is_accepted_and_severity_recomputed(
    psi: float, severe: bool
) -> None:
    report = DriftReport.model_validate_json(service_drift(psi).model_dump_json())
    assert report.severe is severe
    assert report.severe_features() == (["Age"] if severe else [])


def test_a_drift_report_lying_about_severity_is_refused() -> None:
    data = service_drift(0.45).model_dump() | {"any_psi_over_2x_threshold": False}
    with pytest.raises(ValidationError, match="invariant severe_matches_features"):
        DriftReport.model_validate(data)


def test_severity_comes_from_the_features_even_without_the_claim() -> None:
    data = f.drift(features=[{"name": "Age", "psi": 0.5, "threshold": 0.2}])
    report = DriftReport.model_validate(data | {"retrain_recommendation": "hard"})
    assert report.severe and report.any_psi_over_2x_threshold is None


def _compare(challenger_noise: float | None, n: int = 600) -> ServiceValidation:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    champ = np.clip(y * 0.3 + rng.normal(0.35, 0.25, n), 0, 1)
    chal = champ
    if challenger_noise is not None:
        chal = np.clip(y * 0.3 + rng.normal(0.35, challenger_noise, n), 0, 1)
    return champion.compare(
        service="bankchurn",
        champion_version="1",
        challenger_version="2",
        y=y,
        champion_probs=champ,
        challenger_probs=chal,
    )


@pytest.mark.parametrize(("noise", "decision"), [(0.05, "promote"), (None, "keep"), (0.6, "block")])
def test_a_service_model_validation_is_accepted(noise: float | None, decision: str) -> None:
    emitted = _compare(noise)
    assert emitted.decision == decision
    mirrored = ModelValidation.model_validate_json(emitted.model_dump_json())
    assert mirrored.decision == decision


def test_a_service_block_for_an_undefined_auc_is_accepted() -> None:
    y = np.ones(50, dtype=int)
    emitted = champion.compare(
        service="bankchurn",
        champion_version="1",
        challenger_version="2",
        y=y,
        champion_probs=np.full(50, 0.7),
        challenger_probs=np.full(50, 0.8),
    )
    assert emitted.decision == "block"
    assert ModelValidation.model_validate(emitted.model_dump()).decision == "block"
