"""Request and response bodies of NLPInsight."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000, strict=True)
]


class TextIn(BaseModel):
    """One text of 1 to 5000 characters after stripping; blank is refused."""

    model_config = ConfigDict(extra="forbid")

    text: Text


class BatchIn(BaseModel):
    """1 to 500 texts."""

    model_config = ConfigDict(extra="forbid")

    texts: list[TextIn] = Field(min_length=1, max_length=500)


class Sentiment(BaseModel):
    """Most likely label, its probability and every label's probability."""

    prediction_id: str
    label: str
    confidence: float
    all_scores: dict[str, float]


class PredictionOut(BaseModel):
    """One prediction with the backend and model version."""

    prediction: Sentiment
    model: str
    model_version: str
    inference_time_ms: float


class BatchOut(BaseModel):
    """Predictions in request order."""

    predictions: list[Sentiment]
    count: int
    model: str
    model_version: str
    inference_time_ms: float
