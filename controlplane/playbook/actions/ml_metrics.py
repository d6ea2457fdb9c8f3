"""Pure maths of the performance review: rank AUC, slices, and when a slice degrades."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

DEGRADES_BY = 0.05  # baseline AUC - AUC above this: the slice degrades (DESIGN §6)
MIN_ROWS = 200  # labelled predictions a slice needs before it is judged
MIN_CLASS = 20  # of each class: the AUC of 5 churners moves by 0.1 on one customer


def auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """ROC AUC as the Mann-Whitney statistic (tied scores share their mean rank); None with
    one class only."""
    positives = sum(1 for y in labels if y == 1)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum, i = 0.0, 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        mean_rank = (i + j) / 2 + 1
        rank_sum += mean_rank * sum(1 for k in order[i : j + 1] if labels[k] == 1)
        i = j + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def binary_label(value: Any) -> int | None:
    """0 or 1 from a label as clients send it (1, 1.0, true, "1"); None for anything else."""
    if isinstance(value, str):
        return int(value.strip()) if value.strip() in ("0", "1") else None
    return int(value) if isinstance(value, int | float) and value in (0, 1) else None


def standard_error(value: float, positives: int, negatives: int) -> float:
    """Hanley and McNeil's standard error of an AUC, to show how much a slice's number can move."""
    q1, q2 = value / (2 - value), 2 * value**2 / (1 + value)
    var = (
        value * (1 - value) + (positives - 1) * (q1 - value**2) + (negatives - 1) * (q2 - value**2)
    ) / (positives * negatives)
    return math.sqrt(max(var, 0.0))


@dataclass(frozen=True)
class Labelled:
    """One prediction with its ground truth: the score, the true class, the inputs."""

    score: float
    label: int
    features: Mapping[str, Any]


@dataclass(frozen=True)
class SliceResult:
    """How one slice did against the training baseline."""

    name: str
    rows: int
    positives: int
    judged: bool
    auc: float | None
    standard_error: float | None
    drop: float | None
    degraded: bool


def judge(name: str, rows: Sequence[Labelled], baseline_auc: float) -> SliceResult:
    """AUC of a slice and whether it degrades; too small a slice is shown but not judged."""
    labels, scores = [r.label for r in rows], [r.score for r in rows]
    positives = sum(labels)
    negatives = len(labels) - positives
    value = auc(labels, scores)
    judged = value is not None and len(rows) >= MIN_ROWS and min(positives, negatives) >= MIN_CLASS
    if value is None:
        return SliceResult(name, len(rows), positives, False, None, None, None, False)
    drop = round(baseline_auc - value, 4)
    return SliceResult(
        name=name,
        rows=len(rows),
        positives=positives,
        judged=judged,
        auc=round(value, 4),
        standard_error=round(standard_error(value, positives, negatives), 4),
        drop=drop,
        degraded=judged and drop > DEGRADES_BY,
    )


def slices(
    rows: Sequence[Labelled], baseline_auc: float, categorical: Iterable[str]
) -> list[SliceResult]:
    """Every row, then one slice per value of each categorical input (`Geography=Germany`)."""
    found = [judge("all", rows, baseline_auc)]
    for feature in categorical:
        values = sorted({str(r.features.get(feature)) for r in rows if feature in r.features})
        for value in values:
            part = [r for r in rows if str(r.features.get(feature)) == value]
            found.append(judge(f"{feature}={value}", part, baseline_auc))
    return found


def as_json(result: SliceResult) -> dict[str, Any]:
    """A slice as the step's outputs show it."""
    return asdict(result)
