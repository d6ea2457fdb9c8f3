"""Champion/challenger: exact McNemar and a paired 1000-sample bootstrap of delta-AUC (ADR-008)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest, rankdata

from services.common.models import ModelValidation


@dataclass(frozen=True)
class Config:
    """The seed's defaults (configs/champion_challenger.yaml)."""

    alpha: float = 0.05
    n_bootstrap: int = 1000
    non_inferiority_margin: float = 0.005
    superiority_margin: float = 0.005
    random_state: int = 42
    threshold: float = 0.5


def auc_rows(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Rank AUC of every row of (B, n) labels/scores; NaN where a row has one class only."""
    y = np.atleast_2d(y).astype(bool)
    ranks = rankdata(np.atleast_2d(scores), axis=1)
    n_pos = y.sum(axis=1)
    n_neg = y.shape[1] - n_pos
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = ((ranks * y).sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.asarray(np.where((n_pos == 0) | (n_neg == 0), np.nan, auc))


def auc(y: np.ndarray, probs: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """AUC per resample (rows of idx): binary on 1-D probs, macro one-vs-rest on 2-D probs."""
    if probs.ndim == 1:
        return auc_rows(y[idx], probs[idx])
    per_class = [auc_rows(y[idx] == k, probs[:, k][idx]) for k in range(probs.shape[1])]
    return np.asarray(np.mean(per_class, axis=0))  # NaN if a class is missing from a resample


def hard(probs: np.ndarray, threshold: float) -> np.ndarray:
    """Class decisions: threshold for binary scores, argmax for class probabilities."""
    return (probs >= threshold).astype(int) if probs.ndim == 1 else probs.argmax(axis=1)


def mcnemar_exact(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> float:
    """Two-sided exact McNemar p on the discordant pairs (1.0 when there are none)."""
    right_a, right_b = pred_a == y, pred_b == y
    b = int(np.sum(right_a & ~right_b))
    c = int(np.sum(~right_a & right_b))
    return 1.0 if b + c == 0 else float(binomtest(c, b + c, 0.5).pvalue)


def bootstrap_delta(
    y: np.ndarray, champ: np.ndarray, chal: np.ndarray, cfg: Config
) -> tuple[float, float, float]:
    """Point delta-AUC and its 95% percentile interval; single-class resamples are dropped."""
    n = len(y)
    full = np.arange(n)[None, :]
    point = float(auc(y, chal, full)[0] - auc(y, champ, full)[0])
    rng = np.random.default_rng(cfg.random_state)
    deltas = []
    for start in range(0, cfg.n_bootstrap, 100):  # chunks bound the memory of the rank matrices
        idx = rng.integers(0, n, size=(min(100, cfg.n_bootstrap - start), n))
        deltas.append(auc(y, chal, idx) - auc(y, champ, idx))
    d = np.concatenate(deltas)
    d = d[~np.isnan(d)]
    if np.isnan(point) or d.size == 0:
        return point, float("nan"), float("nan")
    low, high = np.percentile(d, [2.5, 97.5])
    return point, float(low), float(high)


def decide(delta: float, low: float, p: float, cfg: Config) -> tuple[str, str]:
    """Block if not non-inferior, promote if better and significant, else keep (in that order)."""
    if np.isnan(delta) or np.isnan(low):
        return "block", "AUC is undefined on the holdout (one class only)"
    if low <= -cfg.non_inferiority_margin:
        return (
            "block",
            f"not non-inferior: CI lower bound {low:.4f} <= -{cfg.non_inferiority_margin}",
        )
    if delta > cfg.superiority_margin and p < cfg.alpha:
        return "promote", f"delta-AUC {delta:.4f} > {cfg.superiority_margin} and McNemar p {p:.4g}"
    return "keep", f"not clearly better: delta-AUC {delta:.4f}, McNemar p {p:.4g}"


def compare(
    *,
    service: str,
    champion_version: str,
    challenger_version: str,
    y: np.ndarray,
    champion_probs: np.ndarray,
    challenger_probs: np.ndarray,
    cfg: Config = Config(),
) -> ModelValidation:
    """Both models scored on the same holdout, turned into a ModelValidation."""
    y = np.asarray(y)
    champ, chal = np.asarray(champion_probs), np.asarray(challenger_probs)
    p = mcnemar_exact(y, hard(champ, cfg.threshold), hard(chal, cfg.threshold))
    delta, low, high = bootstrap_delta(y, champ, chal, cfg)
    decision, reason = decide(delta, low, p, cfg)
    nan_safe = [0.0 if np.isnan(v) else round(v, 6) for v in (delta, low, high)]
    return ModelValidation(
        service=service,
        champion_version=champion_version,
        challenger_version=challenger_version,
        delta_auc=nan_safe[0],
        ci_low=nan_safe[1],
        ci_high=nan_safe[2],
        mcnemar_p=p,
        n_samples=len(y),
        decision=decision,
        reasons=[reason],
    )
