"""Request and response bodies of BankChurn, with the seed's ranges."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CustomerData(BaseModel):
    """One customer; anything out of range, unknown or mistyped is a 422 naming the field."""

    model_config = ConfigDict(strict=True, extra="forbid")

    CreditScore: int = Field(ge=300, le=850)
    Geography: Literal["France", "Spain", "Germany"]
    Gender: Literal["Male", "Female"]
    Age: int = Field(ge=18, le=100)
    Tenure: int = Field(ge=0, le=10)
    Balance: float = Field(ge=0, allow_inf_nan=False)
    NumOfProducts: int = Field(ge=1, le=4)
    HasCrCard: Literal[0, 1]
    IsActiveMember: Literal[0, 1]
    EstimatedSalary: float = Field(ge=0, allow_inf_nan=False)


class Batch(BaseModel):
    """1 to 1000 customers."""

    model_config = ConfigDict(extra="forbid")

    customers: list[CustomerData] = Field(min_length=1, max_length=1000)


class Prediction(BaseModel):
    """Churn score, decision at 0.35, risk band and the id ground truth can refer to."""

    prediction_id: str
    churn_probability: float
    churn_prediction: int
    risk_level: Literal["LOW", "MEDIUM", "HIGH"]
    confidence: float
    model_version: str
    prediction_timestamp: str


class BatchPrediction(BaseModel):
    """Predictions for a batch, in request order."""

    predictions: list[Prediction]
    batch_id: str
    total_customers: int
    processing_time_seconds: float
