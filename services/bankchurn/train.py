"""Train BankChurn: `python -m services.bankchurn.train --out DIR --seed N [--rows N]`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import brier_score_loss, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import train_test_split

from services.bankchurn import data
from services.bankchurn.model import THRESHOLD, ChurnModel
from services.common import artifact, baseline, training
from services.common.models import Manifest

SERVICE = "bankchurn"


def evaluate(model: ChurnModel, cols: dict[str, np.ndarray], y: np.ndarray) -> dict[str, float]:
    """Held-out metrics at the 0.35 decision threshold, plus fairness and latency."""
    p = model.predict_proba(cols)
    flagged = (p >= THRESHOLD).astype(int)
    one = [training.take(cols, np.array([i % len(y)])) for i in range(200)]
    return {
        "roc_auc": roc_auc_score(y, p),
        "f1": f1_score(y, flagged),
        "precision": precision_score(y, flagged, zero_division=0),
        "recall": recall_score(y, flagged),
        "f1_at_0_5": f1_score(y, (p >= 0.5).astype(int)),
        "brier": brier_score_loss(y, p),
        "churn_rate": float(y.mean()),
        "dir_gender": training.disparate_impact(flagged, cols["Gender"]),
        "p95_latency_ms": training.p95_latency_ms(lambda i: model.predict_proba(one[i])),
        "n_test": float(len(y)),
    }


def reference_baseline(cols: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """Training distributions of every input feature, for drift checks."""
    out = {name: baseline.numeric(cols[name]) for name in data.NUMERIC}
    out.update({name: baseline.categorical(cols[name]) for name in data.CATEGORICAL})
    return out


def run(out: Path, seed: int, rows: int) -> Manifest:
    """Generate, split 80/20 stratified, fit, evaluate, write the artifact."""
    cols, y = data.generate(rows, seed)
    idx_train, idx_test = train_test_split(
        np.arange(rows), test_size=0.2, random_state=seed, stratify=y
    )
    train_cols = training.take(cols, idx_train)
    model = ChurnModel(seed).fit(train_cols, y[idx_train])
    metrics = evaluate(model, training.take(cols, idx_test), y[idx_test])
    return artifact.save(
        out,
        service=SERVICE,
        model=model,
        metrics=metrics,
        baseline=reference_baseline(train_cols),
        seed=seed,
        rows=rows,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry point."""
    args = training.parse(SERVICE, 10_000, argv)
    manifest = run(args.out, args.seed, args.rows)
    print(manifest.training.model_version, {k: round(v, 4) for k, v in manifest.metrics.items()})


if __name__ == "__main__":
    main(sys.argv[1:])
