"""Routes every service has: health, readiness, metrics, model info, ground truth, drift."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field

from services.common import drift
from services.common.models import DriftReport
from services.common.serving import Runtime


def get_runtime(request: Request) -> Runtime:
    """The app's runtime, as a dependency."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
router = APIRouter()


class Label(BaseModel):
    """Ground truth for one earlier prediction."""

    prediction_id: str = Field(pattern=r"^[a-f0-9]{32}$")
    label: int | float | str


class GroundTruth(BaseModel):
    """A batch of ground-truth labels."""

    labels: list[Label] = Field(min_length=1, max_length=1000)


@router.get("/health")
def health(rt: RuntimeDep) -> dict[str, Any]:
    """Liveness: the process answers; says whether a model is loaded without failing."""
    return {
        "status": "healthy" if rt.model is not None else "degraded",
        "model_loaded": rt.model is not None,
        "uptime_seconds": round(time.monotonic() - rt.started, 1),
        "version": rt.manifest.training.model_version if rt.manifest else None,
    }


@router.get("/ready")
def ready(rt: RuntimeDep) -> JSONResponse:
    """Readiness: 200 only with a loaded model whose sha256 matched its manifest."""
    if rt.model is None:
        return JSONResponse({"ready": False, "reason": rt.load_error}, status_code=503)
    return JSONResponse({"ready": True, "model_version": rt.model_version})


@router.get("/metrics")
def metrics(rt: RuntimeDep) -> Response:
    """Prometheus exposition."""
    return Response(rt.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/model_info")
def model_info(rt: RuntimeDep) -> dict[str, Any]:
    """What is loaded, how it was trained and how it is served."""
    m = rt.manifest
    return {
        "service": rt.spec.name,
        "loaded": rt.model is not None,
        "load_error": rt.load_error,
        "artifact": str(rt.settings.artifact),
        "model_version": m.training.model_version if m else None,
        "model_sha256": m.model_sha256 if m else None,
        "metrics": m.metrics if m else {},
        "training": m.training.model_dump() if m else None,
        "inference_mode": rt.settings.inference,
        "inference_threads": rt.settings.threads,
    }


@router.post("/ground_truth", status_code=202)
def ground_truth(body: GroundTruth, rt: RuntimeDep) -> dict[str, Any]:
    """Record true labels for earlier predictions, by prediction id."""
    for item in body.labels:
        rt.logger.log_label(item.prediction_id, item.label)
    return {"accepted": len(body.labels)}


@router.get("/drift")
async def drift_report(
    rt: RuntimeDep, window: Annotated[int, Query(ge=drift.MIN_SAMPLES, le=10_000)] = 1000
) -> DriftReport:
    """Drift of the last `window` inputs against the training baseline."""
    if rt.manifest is None:
        raise HTTPException(503, f"model not loaded: {rt.load_error}")
    recent = list(rt.recent)[-window:]
    if len(recent) < drift.MIN_SAMPLES:
        raise HTTPException(409, f"{len(recent)} recent predictions; need {drift.MIN_SAMPLES}")
    manifest = rt.manifest
    return await asyncio.to_thread(
        drift.report,
        service=rt.spec.name,
        baseline=manifest.baseline,
        current=rt.spec.drift_columns([f for _, f in recent]),
        thresholds=rt.spec.thresholds,
        window_start=recent[0][0],
        window_end=recent[-1][0],
    )
