"""ChicagoTaxi: leakage-free lag features, a temporal split and the HTTP contract."""

from __future__ import annotations

import numpy as np
import pytest
from svc_server import ready, wait_until

from services.chicagotaxi import data, features
from services.common.artifact import read_manifest

ROW = {
    "pickup_community_area": 8,
    "hour": 8,
    "day_of_week": 2,
    "lag_1h": 40.0,
    "lag_24h": 55.0,
    "lag_168h": 50.0,
    "rolling_24h": 30.0,
}


def test_lag_features_only_look_at_the_past() -> None:
    """The row for hour t uses counts up to t-1, so the target never leaks into its features."""
    sim = data.generate(2, seed=0)
    sim["counts"] = np.arange(sim["counts"].size, dtype=float).reshape(sim["counts"].shape)
    cols, y, hour_idx = features.lagged(sim)
    counts = sim["counts"]
    i = 5 * data.N_AREAS + 3  # hour 168 + 5, area 4
    t = hour_idx[i]
    assert y[i] == counts[t, 3]
    assert cols["lag_1h"][i] == counts[t - 1, 3]
    assert cols["lag_168h"][i] == counts[t - 168, 3]
    assert cols["rolling_24h"][i] == pytest.approx(counts[t - 24 : t, 3].mean())


def test_demand_has_daily_and_weekly_seasonality() -> None:
    """Weekday 8am beats 4am and weekday commute peaks differ from weekend ones."""
    sim = data.generate(4, seed=3)
    total = sim["counts"].sum(axis=1)
    weekday = (sim["day_of_week"] >= 2) & (sim["day_of_week"] <= 6)
    assert (
        total[weekday & (sim["hour"] == 8)].mean() > 2 * total[weekday & (sim["hour"] == 4)].mean()
    )
    weekend = ~weekday
    assert total[weekday & (sim["hour"] == 8)].mean() > total[weekend & (sim["hour"] == 8)].mean()


def test_training_explains_most_variance(artifacts) -> None:
    """Held-out R^2 on the later weeks is high; MAE is reported."""
    metrics = read_manifest(artifacts["chicagotaxi"]).metrics
    assert metrics["r2"] > 0.7 and metrics["mae"] > 0


def test_demand_and_areas_round_trip(serve, artifacts) -> None:
    """Filters hold, rows come sorted by demand, limit applies, 77 areas are summarised."""
    with serve("chicagotaxi", artifacts["chicagotaxi"]) as client:
        assert wait_until(lambda: ready(client))
        rows = client.get("/demand", params={"area": 8, "day_of_week": 2, "limit": 5}).json()
        everything = client.get("/demand", params={"limit": 1000}).json()
        areas = client.get("/areas").json()
    assert len(rows) == 5
    assert all(r["pickup_community_area"] == 8 and r["day_of_week"] == 2 for r in rows)
    demand = [r["predicted_demand"] for r in everything]
    assert len(everything) == 1000 and demand == sorted(demand, reverse=True)
    assert [a["area_id"] for a in areas] == list(range(1, 78))
    assert max(areas, key=lambda a: a["avg_demand"])["area_id"] in data.BUSY


@pytest.mark.parametrize(
    "params", [{"area": 78}, {"area": 0}, {"hour": 24}, {"day_of_week": 8}, {"limit": 1001}]
)
def test_demand_out_of_range_is_422_naming_the_field(serve, artifacts, params) -> None:
    """Every query parameter is bounded as in the seed."""
    with serve("chicagotaxi", artifacts["chicagotaxi"]) as client:
        assert wait_until(lambda: ready(client))
        r = client.get("/demand", params=params)
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["query", next(iter(params))]


def test_predict_follows_recent_demand(serve, artifacts) -> None:
    """More trips in the last hours means more expected trips; bad lags are refused."""
    with serve("chicagotaxi", artifacts["chicagotaxi"]) as client:
        assert wait_until(lambda: ready(client))
        busy = client.post("/predict", json=ROW).json()
        quiet_row = {**ROW, "lag_1h": 0.0, "lag_24h": 1.0, "lag_168h": 1.0, "rolling_24h": 0.5}
        quiet = client.post("/predict", json=quiet_row).json()
        bad = client.post("/predict", json={**ROW, "lag_1h": -1.0})
        batch = client.post("/predict_batch", json={"rows": [ROW, quiet_row]}).json()
    assert busy["predicted_demand"] > quiet["predicted_demand"]
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "lag_1h"
    assert [p["predicted_demand"] for p in batch["predictions"]] == [
        busy["predicted_demand"],
        quiet["predicted_demand"],
    ]
