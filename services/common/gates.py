"""Retrain acceptance gates (DESIGN §6), in priority order; a challenger must pass all of them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class GateInput:
    """Challenger metrics, production metrics (None when nothing is deployed) and the bars."""

    candidate: Mapping[str, float]
    production: Mapping[str, float] | None
    primary: str = "roc_auc"
    minimum: float = 0.80
    leakage_ceiling: float | None = 0.99
    fairness_floor: float = 0.80
    fairness_metrics: tuple[str, ...] = field(default=())


Gate = Callable[[GateInput], str | None]


def primary_minimum(g: GateInput) -> str | None:
    """Prevents shipping a model below the absolute quality bar (primary metric >= `minimum`)."""
    value = g.candidate.get(g.primary)
    if value is None or value < g.minimum:
        return f"{g.primary} {value} is below the minimum {g.minimum}"
    return None


def no_regression(g: GateInput) -> str | None:
    """Prevents a retrain that is worse than production by more than 5%."""
    if g.production is None or g.primary not in g.production:
        return None
    floor = 0.95 * g.production[g.primary]
    if g.candidate.get(g.primary, float("-inf")) < floor:
        return f"{g.primary} {g.candidate.get(g.primary)} < 0.95 x production ({floor:.4f})"
    return None


def fairness(g: GateInput) -> str | None:
    """Prevents disparate impact: every protected attribute's ratio must be >= `fairness_floor`."""
    bad = [
        f"{m} {g.candidate.get(m)}"
        for m in g.fairness_metrics
        if g.candidate.get(m, 0.0) < g.fairness_floor
    ]
    return f"disparate impact below {g.fairness_floor}: {', '.join(bad)}" if bad else None


def latency(g: GateInput) -> str | None:
    """Prevents a model that is more than 20% slower than production at p95."""
    if g.production is None or "p95_latency_ms" not in g.production:
        return None
    limit = 1.2 * g.production["p95_latency_ms"]
    if g.candidate.get("p95_latency_ms", float("inf")) > limit:
        return (
            f"p95 latency {g.candidate.get('p95_latency_ms')} ms > 1.2 x production ({limit:.3f})"
        )
    return None


def leakage(g: GateInput) -> str | None:
    """Prevents promoting a suspiciously perfect model, the usual sign of target leakage."""
    if g.leakage_ceiling is not None and g.candidate.get(g.primary, 0.0) >= g.leakage_ceiling:
        return f"{g.primary} {g.candidate[g.primary]} >= {g.leakage_ceiling}: suspected leakage"
    return None


GATES: tuple[Gate, ...] = (primary_minimum, no_regression, fairness, latency, leakage)


def failures(g: GateInput, gates: tuple[Gate, ...] = GATES) -> list[str]:
    """Every failed gate's reason; an empty gate list fails closed."""
    if not gates:
        return ["no gates configured: refusing to accept an unchecked model"]
    return [reason for gate in gates if (reason := gate(g)) is not None]
