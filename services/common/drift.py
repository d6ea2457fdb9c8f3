"""PSI/KS drift of live inputs against the training baseline, summarised as a DriftReport."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.common import baseline as base
from services.common.models import DriftReport, FeatureDrift, Recommendation

EPS = 1e-8
MIN_SAMPLES = 50


@dataclass(frozen=True)
class Threshold:
    """Warn and alert PSI levels of one feature; severe is twice the alert level."""

    warn: float = 0.10
    alert: float = 0.20


DEFAULT_THRESHOLD = Threshold()


class NotEnoughData(ValueError):
    """Too few current samples for a drift check to mean anything."""


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index: sum((cur - ref) * ln(cur / ref)) with shares floored at EPS."""
    ref = np.clip(np.asarray(reference, dtype=float), EPS, None)
    cur = np.clip(np.asarray(current, dtype=float), EPS, None)
    return float(max(0.0, np.sum((cur - ref) * np.log(cur / ref))))


def ks_against_quantiles(quantiles: Sequence[float], values: np.ndarray) -> float:
    """KS statistic against the reference CDF rebuilt from its 101 quantiles (error <= 0.01)."""
    q = np.asarray(quantiles, dtype=float)
    x = np.sort(np.asarray(values, dtype=float))
    grid = np.union1d(x, q)  # both CDFs are right-continuous steps; compare at every jump
    f_ref = np.clip((np.searchsorted(q, grid, side="right") - 1) / (len(q) - 1), 0.0, 1.0)
    f_cur = np.searchsorted(x, grid, side="right") / len(x)
    return float(np.max(np.abs(f_cur - f_ref)))


def numeric_drift(entry: Mapping[str, Any], values: Sequence[float]) -> tuple[float, float]:
    """PSI over the baseline's quantile bins and KS over its quantile function."""
    arr = np.asarray(values, dtype=float)
    cur = base.bin_shares(arr, entry["edges"])
    return psi(np.asarray(entry["proportions"]), cur), ks_against_quantiles(entry["quantiles"], arr)


def categorical_drift(entry: Mapping[str, Any], values: Sequence[object]) -> float:
    """PSI over category shares; a category never seen in training counts against a share of 0."""
    counts = Counter(str(v) for v in values)
    total = sum(counts.values()) or 1
    cats = sorted(set(entry["shares"]) | set(counts))
    ref = np.array([entry["shares"].get(c, 0.0) for c in cats])
    cur = np.array([counts.get(c, 0) / total for c in cats])
    return psi(ref, cur)


def text_drift(entry: Mapping[str, Any], texts: Sequence[str]) -> float:
    """PSI over the shares of the baseline's top tokens plus one bucket for every other token."""
    vocab = entry["vocabulary"]
    counts: Counter[str] = Counter()
    for t in texts:
        counts.update(base.tokens(t))
    total = sum(counts.values()) or 1
    known = [counts.get(tok, 0) / total for tok in vocab]
    ref = np.array([*vocab.values(), entry["other_share"]])
    cur = np.array([*known, max(0.0, 1 - sum(known))])
    return psi(ref, cur)


def feature_drift(
    name: str, entry: Mapping[str, Any], values: Sequence[Any], threshold: Threshold
) -> FeatureDrift:
    """Score one feature with the method its baseline kind calls for."""
    kind = entry["kind"]
    ks = None
    if kind == "numeric":
        value, ks = numeric_drift(entry, values)
    elif kind == "categorical":
        value = categorical_drift(entry, values)
    else:
        value = text_drift(entry, values)
    return FeatureDrift(name=name, psi=round(value, 6), threshold=threshold.alert, ks=ks, kind=kind)


def recommend(
    features: Sequence[FeatureDrift], thresholds: Mapping[str, Threshold]
) -> Recommendation:
    """Hard retrain at any alert, soft (review within a week) at any warning, else none."""
    levels = [(f.psi, thresholds.get(f.name, DEFAULT_THRESHOLD)) for f in features]
    if any(p >= t.alert for p, t in levels):
        return "hard"
    if any(p >= t.warn for p, t in levels):
        return "soft"
    return "none"


def report(
    *,
    service: str,
    baseline: Mapping[str, Mapping[str, Any]],
    current: Mapping[str, Sequence[Any]],
    thresholds: Mapping[str, Threshold],
    window_start: str,
    window_end: str,
) -> DriftReport:
    """Compare every baselined feature present in the current window and summarise the result."""
    names = [n for n in baseline if n in current]
    if not names:
        raise NotEnoughData("no baselined feature is present in the current window")
    n = min(len(current[name]) for name in names)
    if n < MIN_SAMPLES:
        raise NotEnoughData(f"{n} samples in the window; a drift check needs {MIN_SAMPLES}")
    features = [
        feature_drift(name, baseline[name], current[name], thresholds.get(name, DEFAULT_THRESHOLD))
        for name in names
    ]
    return DriftReport(
        service=service,
        window_start=window_start,
        window_end=window_end,
        features=features,
        any_psi_over_2x_threshold=any(f.psi > 2 * f.threshold for f in features),
        max_psi=max(f.psi for f in features),
        retrain_recommendation=recommend(features, thresholds),
    )
