"""NLPInsight HTTP API: /predict and /predict_batch on top of the shared routes."""

from __future__ import annotations

import time
from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from sklearn.pipeline import Pipeline

from services.common.app import create_app
from services.common.routes import RuntimeDep
from services.common.serving import Runtime, ServeSettings
from services.nlpinsight.data import LABELS
from services.nlpinsight.model import BACKEND
from services.nlpinsight.schemas import BatchIn, BatchOut, PredictionOut, Sentiment, TextIn
from services.nlpinsight.spec import SPEC

router = APIRouter()


def score(pipe: Pipeline, texts: Sequence[str]) -> list[list[float]]:
    """Blocking class probabilities per text; runs in the pool."""
    probs: list[list[float]] = pipe.predict_proba(list(texts)).tolist()
    return probs


def respond(
    rt: Runtime, texts: Sequence[str], probs: list[list[float]], ms: float
) -> list[Sentiment]:
    """Shape, count and log each prediction."""
    out = []
    for text, p in zip(texts, probs, strict=True):
        best = max(range(len(LABELS)), key=p.__getitem__)
        scores = {label: round(v, 6) for label, v in zip(LABELS, p, strict=True)}
        pid = rt.record({"text": text}, scores, LABELS[best], ms / len(texts))
        out.append(
            Sentiment(
                prediction_id=pid,
                label=LABELS[best],
                confidence=round(p[best], 6),
                all_scores=scores,
            )
        )
    return out


@router.post("/predict")
async def predict(body: TextIn, rt: RuntimeDep) -> PredictionOut:
    """Sentiment of one text."""
    start = time.perf_counter()
    probs = await rt.infer(score, [body.text])
    ms = (time.perf_counter() - start) * 1000
    return PredictionOut(
        prediction=respond(rt, [body.text], probs, ms)[0],
        model=BACKEND,
        model_version=rt.model_version,
        inference_time_ms=round(ms, 3),
    )


@router.post("/predict_batch")
async def predict_batch(body: BatchIn, rt: RuntimeDep) -> BatchOut:
    """Sentiment of 1 to 500 texts."""
    texts = [t.text for t in body.texts]
    start = time.perf_counter()
    probs = await rt.infer(score, texts)
    ms = (time.perf_counter() - start) * 1000
    return BatchOut(
        predictions=respond(rt, texts, probs, ms),
        count=len(texts),
        model=BACKEND,
        model_version=rt.model_version,
        inference_time_ms=round(ms, 3),
    )


def build(settings: ServeSettings) -> FastAPI:
    """The NLPInsight app for these settings."""
    return create_app(SPEC, settings, router)
