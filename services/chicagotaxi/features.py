"""Lag features from past counts only (1 h, 24 h, 168 h, rolling 24 h): no same-period leakage."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from services.chicagotaxi.data import HOURS_PER_WEEK, N_AREAS

FEATURES = (
    "pickup_community_area",
    "hour",
    "day_of_week",
    "is_weekend",
    "lag_1h",
    "lag_24h",
    "lag_168h",
    "rolling_24h",
)


def matrix(cols: Mapping[str, np.ndarray]) -> np.ndarray:
    """Model input in FEATURES order; is_weekend is derived so callers cannot contradict it."""
    dow = np.asarray(cols["day_of_week"], dtype=float)
    derived = {**cols, "is_weekend": ((dow == 1) | (dow == 7)).astype(float)}
    return np.column_stack([np.asarray(derived[f], dtype=float) for f in FEATURES])


def lagged(sim: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Rows for every (hour >= 168, area): features, target and the hour index for splitting."""
    counts = sim["counts"]
    n_hours = counts.shape[0]
    cumsum = np.vstack([np.zeros((1, N_AREAS)), np.cumsum(counts, axis=0)])
    hours = np.arange(HOURS_PER_WEEK, n_hours)
    rolling = (cumsum[hours] - cumsum[hours - 24]) / 24.0  # hours t-24 .. t-1
    areas = np.arange(1, N_AREAS + 1)
    cols = {
        "pickup_community_area": np.tile(areas, len(hours)),
        "hour": np.repeat(sim["hour"][hours], N_AREAS),
        "day_of_week": np.repeat(sim["day_of_week"][hours], N_AREAS),
        "lag_1h": counts[hours - 1].ravel(),
        "lag_24h": counts[hours - 24].ravel(),
        "lag_168h": counts[hours - HOURS_PER_WEEK].ravel(),
        "rolling_24h": rolling.ravel(),
    }
    return cols, counts[hours].ravel(), np.repeat(hours, N_AREAS)
