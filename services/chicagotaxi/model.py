"""The demand model and the forecast table the API serves, pickled together under one hash."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from services.chicagotaxi import features

CATEGORY_EDGES = (10.0, 30.0)  # trips per hour: low < 10 <= medium < 30 <= high


def demand_category(value: float) -> str:
    """Low, medium or high demand."""
    low, high = CATEGORY_EDGES
    return "low" if value < low else "medium" if value < high else "high"


class DemandModel:
    """A tree ensemble over lag features plus a precomputed area x hour x weekday forecast."""

    def __init__(self, seed: int) -> None:
        self.regressor = HistGradientBoostingRegressor(
            max_iter=300, learning_rate=0.08, max_leaf_nodes=31, random_state=seed
        )
        self.table: dict[str, np.ndarray] = {}
        self.area_info: dict[str, np.ndarray] = {}

    def fit(self, cols: Mapping[str, np.ndarray], y: np.ndarray) -> DemandModel:
        """Fit the regressor."""
        self.regressor.fit(features.matrix(cols), y)
        return self

    def predict(self, cols: Mapping[str, np.ndarray]) -> np.ndarray:
        """Expected trips in the hour, never negative."""
        return np.asarray(np.clip(self.regressor.predict(features.matrix(cols)), 0, None))

    def build_table(self, cols: Mapping[str, np.ndarray], seed: int) -> None:
        """Average predicted demand per (area, hour, weekday) over the forecast window."""
        pred = self.predict(cols)
        key = (
            (cols["pickup_community_area"] - 1) * 168
            + (cols["day_of_week"] - 1) * 24
            + cols["hour"]
        )
        sums = np.bincount(key, weights=pred, minlength=77 * 168)
        counts = np.bincount(key, minlength=77 * 168)
        idx = np.arange(77 * 168)
        self.table = {
            "area": idx // 168 + 1,
            "day_of_week": (idx % 168) // 24 + 1,
            "hour": idx % 24,
            "demand": np.round(sums / np.maximum(counts, 1), 2),
            "records": counts,
        }
        rng = np.random.default_rng(seed)
        distance = rng.gamma(2.0, 1.6, 77).round(2)
        distance[[75, 55]] = [17.5, 11.2]  # airports: O'Hare, Garfield Ridge (Midway)
        self.area_info = {
            "avg_distance_miles": distance,
            "avg_fare": (3.25 + 2.25 * distance).round(2),
        }
