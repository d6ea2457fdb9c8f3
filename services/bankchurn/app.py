"""BankChurn HTTP API: /predict and /predict_batch on top of the shared routes."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from fastapi import APIRouter, FastAPI

from services.bankchurn import model as rules
from services.bankchurn.data import FEATURES
from services.bankchurn.schemas import Batch, BatchPrediction, CustomerData, Prediction
from services.bankchurn.spec import SPEC
from services.common.app import create_app
from services.common.predlog import utc_now
from services.common.routes import RuntimeDep
from services.common.serving import Runtime, ServeSettings

router = APIRouter()


def score(model: rules.ChurnModel, customers: Sequence[CustomerData]) -> list[float]:
    """Blocking inference over a batch; runs in the pool."""
    cols = {f: np.array([getattr(c, f) for c in customers]) for f in FEATURES}
    return [float(p) for p in model.predict_proba(cols)]


def respond(
    rt: Runtime, customers: Sequence[CustomerData], probs: list[float], ms: float
) -> list[Prediction]:
    """Shape, count and log each prediction."""
    out = []
    for customer, p in zip(customers, probs, strict=True):
        level = rules.risk_level(p)
        pid = rt.record(customer.model_dump(), round(p, 6), level, ms / len(probs))
        out.append(
            Prediction(
                prediction_id=pid,
                churn_probability=round(p, 6),
                churn_prediction=int(p >= rules.THRESHOLD),
                risk_level=level,
                confidence=round(rules.confidence(p), 6),
                model_version=rt.model_version,
                prediction_timestamp=utc_now(),
            )
        )
    return out


@router.post("/predict")
async def predict(customer: CustomerData, rt: RuntimeDep) -> Prediction:
    """Churn probability of one customer, decision at 0.35 and risk band."""
    start = time.perf_counter()
    probs = await rt.infer(score, [customer])
    return respond(rt, [customer], probs, (time.perf_counter() - start) * 1000)[0]


@router.post("/predict_batch")
async def predict_batch(batch: Batch, rt: RuntimeDep) -> BatchPrediction:
    """Churn predictions for 1 to 1000 customers."""
    start = time.perf_counter()
    probs = await rt.infer(score, batch.customers)
    elapsed = time.perf_counter() - start
    return BatchPrediction(
        predictions=respond(rt, batch.customers, probs, elapsed * 1000),
        batch_id=f"batch_{int(time.time() * 1000)}",
        total_customers=len(probs),
        processing_time_seconds=round(elapsed, 6),
    )


def build(settings: ServeSettings) -> FastAPI:
    """The BankChurn app for these settings."""
    return create_app(SPEC, settings, router)
