"""Train NLPInsight: `python -m services.nlpinsight.train --out DIR --seed N [--rows N]`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from services.common import artifact, baseline, training
from services.common.models import Manifest
from services.nlpinsight import data, model

SERVICE = "nlpinsight"


def evaluate(pipe: Pipeline, texts: list[str], y: np.ndarray) -> dict[str, float]:
    """Held-out accuracy, macro/weighted F1, per-class F1 and single-text latency."""
    pred = pipe.predict(texts)
    per_class = f1_score(y, pred, average=None, labels=[0, 1, 2])
    metrics = {
        "accuracy": accuracy_score(y, pred),
        "f1_macro": f1_score(y, pred, average="macro"),
        "f1_weighted": f1_score(y, pred, average="weighted"),
        "p95_latency_ms": training.p95_latency_ms(lambda i: pipe.predict_proba([texts[i % 50]])),
        "n_test": float(len(y)),
    }
    metrics.update({f"f1_{label}": f for label, f in zip(data.LABELS, per_class, strict=True)})
    return metrics


def reference_baseline(texts: list[str]) -> dict[str, dict[str, Any]]:
    """Text length and top-vocabulary shares of the training texts, for drift checks."""
    return {
        "text_length": baseline.numeric(np.array([len(t) for t in texts])),
        "vocabulary": baseline.text(texts),
    }


def run(out: Path, seed: int, rows: int) -> Manifest:
    """Generate, split 80/20 stratified, fit, evaluate, write the artifact."""
    texts, y = data.generate(rows, seed)
    tr_x, te_x, tr_y, te_y = train_test_split(
        texts, y, test_size=0.2, random_state=seed, stratify=y
    )
    pipe = model.build(seed).fit(tr_x, tr_y)
    return artifact.save(
        out,
        service=SERVICE,
        model=pipe,
        metrics=evaluate(pipe, te_x, te_y),
        baseline=reference_baseline(tr_x),
        seed=seed,
        rows=rows,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry point."""
    args = training.parse(SERVICE, 12_000, argv)
    manifest = run(args.out, args.seed, args.rows)
    print(manifest.training.model_version, {k: round(v, 4) for k, v in manifest.metrics.items()})


if __name__ == "__main__":
    main(sys.argv[1:])
