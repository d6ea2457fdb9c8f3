"""Champion/challenger and retrain gates: better promotes, worse blocks, equal keeps."""

from __future__ import annotations

import numpy as np
import pytest

from services.common import champion, gates
from services.common.models import Manifest
from services.common.validation import validate

N = 2000


def holdout(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels and a latent signal both models try to recover."""
    rng = np.random.default_rng(seed)
    y = (rng.random(N) < 0.3).astype(int)
    return y, y + rng.normal(0, 1, N)


def scores(signal: np.ndarray, noise: float, seed: int) -> np.ndarray:
    """A model whose score is the signal plus its own noise, squashed to (0, 1)."""
    rng = np.random.default_rng(seed)
    return 1 / (1 + np.exp(-(signal + rng.normal(0, noise, len(signal)) - 0.5)))


def compare(y, champ, chal):
    return champion.compare(
        service="bankchurn",
        champion_version="v1",
        challenger_version="v2",
        y=y,
        champion_probs=champ,
        challenger_probs=chal,
    )


def test_clearly_better_challenger_is_promoted() -> None:
    y, signal = holdout()
    result = compare(y, scores(signal, 1.5, 1), scores(signal, 0.2, 2))
    assert result.decision == "promote"
    assert result.delta_auc > 0.005 and result.ci_low > 0 and result.mcnemar_p < 0.05
    assert result.n_samples == N


def test_clearly_worse_challenger_is_blocked() -> None:
    y, signal = holdout()
    result = compare(y, scores(signal, 0.2, 2), scores(signal, 1.5, 1))
    assert result.decision == "block" and result.ci_high < 0
    assert "non-inferior" in result.reasons[0]


def test_equal_challenger_is_kept() -> None:
    """The same scores: delta 0, interval [0, 0], McNemar p = 1."""
    y, signal = holdout()
    s = scores(signal, 0.5, 3)
    result = compare(y, s, s.copy())
    assert result.decision == "keep"
    assert result.delta_auc == 0 and result.ci_low == 0 and result.mcnemar_p == 1.0


def test_bootstrap_is_reproducible_with_seed_42() -> None:
    """Same inputs, same interval: the gate's decision cannot flip between runs."""
    y, signal = holdout()
    a, b = scores(signal, 1.0, 4), scores(signal, 0.9, 5)
    assert compare(y, a, b) == compare(y, a, b)


def test_rank_auc_matches_sklearn() -> None:
    from sklearn.metrics import roc_auc_score

    y, signal = holdout(3)
    s = np.round(scores(signal, 1.0, 6), 2)  # ties included
    assert champion.auc_rows(y, s)[0] == pytest.approx(roc_auc_score(y, s))


def test_multiclass_uses_macro_one_vs_rest_auc() -> None:
    """For three-class sentiment, a sharper probability matrix is promoted."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, N)
    onehot = np.eye(3)[y]

    def probs(noise: float) -> np.ndarray:
        z = onehot * 2 + rng.normal(0, noise, (N, 3))
        return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)

    assert compare(y, probs(2.5), probs(0.5)).decision == "promote"


def test_single_class_holdout_blocks() -> None:
    """AUC is undefined without both classes, which must not pass as a keep or a promote."""
    y = np.ones(50, dtype=int)
    s = np.linspace(0, 1, 50)
    assert compare(y, s, s).decision == "block"


GOOD = {"roc_auc": 0.86, "p95_latency_ms": 1.0, "dir_gender": 0.9}


@pytest.mark.parametrize(
    ("candidate", "production", "expected"),
    [
        ({**GOOD, "roc_auc": 0.79}, None, "below the minimum"),
        ({**GOOD, "roc_auc": 0.81}, {**GOOD, "roc_auc": 0.90}, "0.95 x production"),
        ({**GOOD, "dir_gender": 0.7}, None, "disparate impact"),
        ({**GOOD, "p95_latency_ms": 1.3}, GOOD, "p95 latency"),
        ({**GOOD, "roc_auc": 0.995}, None, "leakage"),
    ],
)
def test_each_retrain_gate_fails_on_its_condition(candidate, production, expected) -> None:
    g = gates.GateInput(
        candidate=candidate, production=production, fairness_metrics=("dir_gender",)
    )
    reasons = gates.failures(g)
    assert len(reasons) == 1 and expected in reasons[0]


def test_good_candidate_passes_and_empty_gate_list_fails_closed() -> None:
    g = gates.GateInput(candidate=GOOD, production=GOOD, fairness_metrics=("dir_gender",))
    assert gates.failures(g) == []
    assert gates.failures(g, gates=()) != []


def test_failed_gate_blocks_even_a_better_challenger(artifacts) -> None:
    """Gates come first: a promote from C/C becomes a block with the gate's reason."""
    manifest = Manifest.model_validate_json((artifacts["bankchurn"] / "manifest.json").read_text())
    y, signal = holdout()
    result = validate(
        champion_manifest=manifest,
        challenger_manifest=manifest,
        y=y,
        champion_probs=scores(signal, 1.5, 1),
        challenger_probs=scores(signal, 0.2, 2),
        gate_input=gates.GateInput(candidate={**GOOD, "roc_auc": 0.5}, production=None),
        cfg=champion.Config(),
    )
    assert result.decision == "block" and "below the minimum" in result.reasons[0]
