"""Request and response bodies of ChicagoTaxi."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Category = Literal["low", "medium", "high"]


class TaxiFeatures(BaseModel):
    """Lag features of one area-hour; the counts are trips in past hours, never the same hour."""

    model_config = ConfigDict(strict=True, extra="forbid")

    pickup_community_area: int = Field(ge=1, le=77)
    hour: int = Field(ge=0, le=23)
    day_of_week: int = Field(ge=1, le=7, description="1 = Sunday")
    lag_1h: float = Field(ge=0, le=100_000, allow_inf_nan=False)
    lag_24h: float = Field(ge=0, le=100_000, allow_inf_nan=False)
    lag_168h: float = Field(ge=0, le=100_000, allow_inf_nan=False)
    rolling_24h: float = Field(ge=0, le=100_000, allow_inf_nan=False)


class Batch(BaseModel):
    """1 to 1000 area-hours."""

    model_config = ConfigDict(extra="forbid")

    rows: list[TaxiFeatures] = Field(min_length=1, max_length=1000)


class DemandPrediction(BaseModel):
    """Expected trips for one area-hour."""

    prediction_id: str
    predicted_demand: float
    demand_category: Category
    model_version: str


class BatchPrediction(BaseModel):
    """Predictions in request order."""

    predictions: list[DemandPrediction]
    count: int


class DemandRow(BaseModel):
    """One precomputed forecast row, as the seed's /demand returns it."""

    pickup_community_area: int
    hour: int
    day_of_week: int
    is_weekend: bool
    predicted_demand: float
    demand_category: Category
    avg_fare: float
    avg_distance_miles: float


class AreaSummary(BaseModel):
    """Average forecast demand and peak hour of one area."""

    area_id: int
    avg_demand: float
    peak_hour: int
    total_records: int
