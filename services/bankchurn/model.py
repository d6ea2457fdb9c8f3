"""The churn model: engineered features in front of gradient boosting, plus the decision rules."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier

THRESHOLD = 0.35


def engineer(c: Mapping[str, np.ndarray]) -> np.ndarray:
    """Numeric matrix: raw features, one-hot geography, gender and the seed's ratios."""
    age = np.asarray(c["Age"], dtype=float)
    tenure = np.asarray(c["Tenure"], dtype=float)
    balance = np.asarray(c["Balance"], dtype=float)
    salary = np.asarray(c["EstimatedSalary"], dtype=float)
    products = np.asarray(c["NumOfProducts"], dtype=float)
    geo = np.asarray(c["Geography"])
    return np.column_stack(
        [
            np.asarray(c["CreditScore"], dtype=float),
            age,
            tenure,
            balance,
            products,
            np.asarray(c["HasCrCard"], dtype=float),
            np.asarray(c["IsActiveMember"], dtype=float),
            salary,
            geo == "Germany",
            geo == "Spain",
            np.asarray(c["Gender"]) == "Female",
            balance / (salary + 1.0),
            tenure / age,
            products / (tenure + 1.0),
            balance == 0,
        ]
    ).astype(float)


class ChurnModel:
    """Feature engineering and classifier pickled together so serving cannot skew from training."""

    def __init__(self, seed: int, n_estimators: int = 250) -> None:
        self.classifier = GradientBoostingClassifier(
            n_estimators=n_estimators,
            max_depth=3,
            learning_rate=0.05,
            subsample=0.8,
            random_state=seed,
        )

    def fit(self, cols: Mapping[str, np.ndarray], y: np.ndarray) -> ChurnModel:
        """Fit on column arrays."""
        self.classifier.fit(engineer(cols), y)
        return self

    def predict_proba(self, cols: Mapping[str, np.ndarray]) -> np.ndarray:
        """Churn probability per row."""
        return np.asarray(self.classifier.predict_proba(engineer(cols))[:, 1])


def risk_level(p: float) -> str:
    """LOW < 0.3 <= MEDIUM < 0.7 <= HIGH, as the seed's API."""
    return "LOW" if p < 0.3 else "MEDIUM" if p < 0.7 else "HIGH"


def confidence(p: float) -> float:
    """Distance from a coin flip, |p - 0.5| * 2."""
    return abs(p - 0.5) * 2
