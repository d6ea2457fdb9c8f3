"""The ML actions (DESIGN §6 drift-check, performance-review, retrain), one module each."""

from __future__ import annotations

from typing import Any

from controlplane.playbook.actions import ml_drift, ml_gates, ml_retrain, ml_review
from controlplane.playbook.actions.base import Action


def actions() -> list[Action[Any, Any]]:
    """drift.check, performance.review, model.train, model.gates, release.build."""
    return [*ml_drift.actions(), *ml_review.actions(), *ml_retrain.actions(), *ml_gates.actions()]
