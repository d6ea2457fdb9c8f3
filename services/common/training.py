"""Helpers every train.py uses: flags, held-out metrics, single-row latency, fairness ratio."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def parse(service: str, default_rows: int, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """--out DIR --seed N --rows N, the same for every service."""
    p = argparse.ArgumentParser(prog=f"python -m services.{service}.train")
    p.add_argument("--out", type=Path, required=True, help="artifact folder to write")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--rows", type=int, default=default_rows, help="size of the synthetic data")
    return p.parse_args(argv)


def p95_latency_ms(predict_one: Callable[[int], Any], n: int = 200) -> float:
    """p95 of single-row inference, the latency the retrain gate compares with production."""
    durations = []
    for i in range(n):
        start = time.perf_counter()
        predict_one(i)
        durations.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(durations, 95))


def disparate_impact(flagged: np.ndarray, groups: np.ndarray) -> float:
    """Lowest over highest positive rate across groups (1.0 means parity)."""
    rates = [flagged[groups == g].mean() for g in np.unique(groups)]
    high = max(rates)
    return float(min(rates) / high) if high > 0 else 1.0


def take(cols: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    """Row subset of a column dict."""
    return {k: v[idx] for k, v in cols.items()}
