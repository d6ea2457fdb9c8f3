"""Reads of the precomputed forecast table behind GET /demand and GET /areas."""

from __future__ import annotations

import numpy as np

from services.chicagotaxi.model import DemandModel, demand_category
from services.chicagotaxi.schemas import AreaSummary, DemandRow


def demand(
    model: DemandModel, area: int | None, hour: int | None, day_of_week: int | None, limit: int
) -> list[DemandRow]:
    """Forecast rows matching the filters, highest demand first."""
    t = model.table
    mask = np.ones(len(t["demand"]), dtype=bool)
    for name, value in (("area", area), ("hour", hour), ("day_of_week", day_of_week)):
        if value is not None:
            mask &= t[name] == value
    idx = np.flatnonzero(mask)
    idx = idx[np.argsort(-t["demand"][idx], kind="stable")][:limit]
    return [_row(model, int(i)) for i in idx]


def _row(model: DemandModel, i: int) -> DemandRow:
    t, info = model.table, model.area_info
    area, dow, value = int(t["area"][i]), int(t["day_of_week"][i]), float(t["demand"][i])
    return DemandRow(
        pickup_community_area=area,
        hour=int(t["hour"][i]),
        day_of_week=dow,
        is_weekend=dow in (1, 7),
        predicted_demand=value,
        demand_category=demand_category(value),
        avg_fare=float(info["avg_fare"][area - 1]),
        avg_distance_miles=float(info["avg_distance_miles"][area - 1]),
    )


def areas(model: DemandModel) -> list[AreaSummary]:
    """Per-area average forecast, peak hour and how many rows back it."""
    t = model.table
    out = []
    for area in range(1, 78):
        sel = t["area"] == area
        by_hour = np.bincount(t["hour"][sel], weights=t["demand"][sel], minlength=24)
        out.append(
            AreaSummary(
                area_id=area,
                avg_demand=round(float(t["demand"][sel].mean()), 2),
                peak_hour=int(np.argmax(by_hour)),
                total_records=int(t["records"][sel].sum()),
            )
        )
    return out
