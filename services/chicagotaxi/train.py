"""Train ChicagoTaxi: `python -m services.chicagotaxi.train --out DIR --seed N [--rows N]`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from services.chicagotaxi import data, features
from services.chicagotaxi.model import DemandModel
from services.common import artifact, baseline, training
from services.common.models import Manifest

SERVICE = "chicagotaxi"
TEST_WEEKS = 2
NUMERIC = ("hour", "day_of_week", "lag_1h", "lag_24h", "lag_168h", "rolling_24h")


def evaluate(model: DemandModel, cols: dict[str, np.ndarray], y: np.ndarray) -> dict[str, float]:
    """Held-out R^2, MAE and RMSE on the last weeks, plus single-row latency."""
    pred = model.predict(cols)
    one = [training.take(cols, np.array([i])) for i in range(200)]
    return {
        "r2": r2_score(y, pred),
        "mae": mean_absolute_error(y, pred),
        "rmse": float(np.sqrt(mean_squared_error(y, pred))),
        "p95_latency_ms": training.p95_latency_ms(lambda i: model.predict(one[i])),
        "n_test": float(len(y)),
    }


def reference_baseline(cols: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """Training distributions of the request features, for drift checks."""
    out = {name: baseline.numeric(cols[name]) for name in NUMERIC}
    out["pickup_community_area"] = baseline.categorical(cols["pickup_community_area"])
    return out


def weeks_for(rows: int) -> int:
    """Weeks of history that give about `rows` hourly rows (one warm-up week, two test weeks)."""
    return max(TEST_WEEKS + 2, round(rows / (data.N_AREAS * data.HOURS_PER_WEEK)) + 1)


def run(out: Path, seed: int, rows: int) -> Manifest:
    """Simulate, build lags, split by time (last two weeks held out), fit, evaluate, save."""
    weeks = weeks_for(rows)
    cols, y, hour_idx = features.lagged(data.generate(weeks, seed))
    test = hour_idx >= (weeks - TEST_WEEKS) * data.HOURS_PER_WEEK
    train_cols = training.take(cols, ~test)
    test_cols = training.take(cols, test)
    model = DemandModel(seed).fit(train_cols, y[~test])
    metrics = evaluate(model, test_cols, y[test])
    model.build_table(test_cols, seed)
    return artifact.save(
        out,
        service=SERVICE,
        model=model,
        metrics=metrics,
        baseline=reference_baseline(train_cols),
        seed=seed,
        rows=len(y),
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry point."""
    args = training.parse(SERVICE, data.N_AREAS * data.HOURS_PER_WEEK * 11, argv)
    manifest = run(args.out, args.seed, args.rows)
    print(manifest.training.model_version, {k: round(v, 4) for k, v in manifest.metrics.items()})


if __name__ == "__main__":
    main(sys.argv[1:])
