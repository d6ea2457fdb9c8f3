"""ChicagoTaxi HTTP API: forecast reads (/demand, /areas) and online /predict on lag features."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Annotated

import numpy as np
from fastapi import APIRouter, FastAPI, Query

from services.chicagotaxi import queries
from services.chicagotaxi.features import FEATURES
from services.chicagotaxi.model import DemandModel, demand_category
from services.chicagotaxi.schemas import (
    AreaSummary,
    Batch,
    BatchPrediction,
    DemandPrediction,
    DemandRow,
    TaxiFeatures,
)
from services.chicagotaxi.spec import SPEC
from services.common.app import create_app
from services.common.routes import RuntimeDep
from services.common.serving import Runtime, ServeSettings

router = APIRouter()
INPUTS = [f for f in FEATURES if f != "is_weekend"]


def score(model: DemandModel, rows: Sequence[TaxiFeatures]) -> list[float]:
    """Blocking inference over a batch; runs in the pool."""
    cols = {f: np.array([getattr(r, f) for r in rows]) for f in INPUTS}
    return [float(v) for v in model.predict(cols)]


def respond(
    rt: Runtime, rows: Sequence[TaxiFeatures], preds: list[float], ms: float
) -> list[DemandPrediction]:
    """Shape, count and log each prediction."""
    out = []
    for row, value in zip(rows, preds, strict=True):
        value = round(value, 3)
        category = demand_category(value)
        pid = rt.record(row.model_dump(), value, category, ms / len(preds))
        out.append(
            DemandPrediction(
                prediction_id=pid,
                predicted_demand=value,
                demand_category=category,
                model_version=rt.model_version,
            )
        )
    return out


@router.post("/predict")
async def predict(row: TaxiFeatures, rt: RuntimeDep) -> DemandPrediction:
    """Expected trips for one area-hour from its lag features."""
    start = time.perf_counter()
    preds = await rt.infer(score, [row])
    return respond(rt, [row], preds, (time.perf_counter() - start) * 1000)[0]


@router.post("/predict_batch")
async def predict_batch(batch: Batch, rt: RuntimeDep) -> BatchPrediction:
    """Expected trips for 1 to 1000 area-hours."""
    start = time.perf_counter()
    preds = await rt.infer(score, batch.rows)
    out = respond(rt, batch.rows, preds, (time.perf_counter() - start) * 1000)
    return BatchPrediction(predictions=out, count=len(out))


@router.get("/demand")
async def demand(
    rt: RuntimeDep,
    area: Annotated[int | None, Query(ge=1, le=77)] = None,
    hour: Annotated[int | None, Query(ge=0, le=23)] = None,
    day_of_week: Annotated[int | None, Query(ge=1, le=7, description="1 = Sunday")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[DemandRow]:
    """Precomputed forecast rows, highest demand first."""
    rows: list[DemandRow] = await rt.infer(queries.demand, area, hour, day_of_week, limit)
    return rows


@router.get("/areas")
async def areas(rt: RuntimeDep) -> list[AreaSummary]:
    """Average demand and peak hour of every community area."""
    summaries: list[AreaSummary] = await rt.infer(queries.areas)
    return summaries


def build(settings: ServeSettings) -> FastAPI:
    """The ChicagoTaxi app for these settings."""
    return create_app(SPEC, settings, router)
