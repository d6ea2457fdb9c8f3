"""Baseline distributions recorded at training time, the reference side of every drift check."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

N_BINS = 10
TOP_VOCABULARY = 500
_TOKEN = re.compile(r"[a-z$][a-z0-9$']+")


def tokens(text: str) -> list[str]:
    """Split text into lowercase word tokens the same way at training and at check time."""
    return _TOKEN.findall(text.lower())


def numeric(values: np.ndarray) -> dict[str, Any]:
    """Summarise a numeric feature: 10 quantile bins (deduplicated edges) and 101 quantiles."""
    values = np.asarray(values, dtype=float)
    inner = np.quantile(values, np.linspace(0, 1, N_BINS + 1)[1:-1])
    edges = np.unique(inner)
    return {
        "kind": "numeric",
        "edges": edges.tolist(),
        "proportions": bin_shares(values, edges).tolist(),
        "quantiles": np.quantile(values, np.linspace(0, 1, 101)).tolist(),
        "mean": float(values.mean()),
        "std": float(values.std()),
    }


def bin_shares(values: np.ndarray, edges: Sequence[float] | np.ndarray) -> np.ndarray:
    """Share of values in each bin (-inf, e0], (e0, e1], ..., (ek, inf)."""
    idx = np.searchsorted(np.asarray(edges, dtype=float), values, side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1)
    return counts / max(len(values), 1)


def categorical(values: Iterable[object]) -> dict[str, Any]:
    """Summarise a categorical feature as category shares."""
    counts = Counter(str(v) for v in values)
    total = sum(counts.values()) or 1
    return {"kind": "categorical", "shares": {k: c / total for k, c in sorted(counts.items())}}


def text(texts: Iterable[str], top: int = TOP_VOCABULARY) -> dict[str, Any]:
    """Summarise a text feature as the shares of its most frequent tokens plus the rest."""
    counts: Counter[str] = Counter()
    for t in texts:
        counts.update(tokens(t))
    total = sum(counts.values()) or 1
    vocab = {tok: c / total for tok, c in counts.most_common(top)}
    return {"kind": "text", "vocabulary": vocab, "other_share": max(0.0, 1 - sum(vocab.values()))}
