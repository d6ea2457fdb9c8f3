"""App factory shared by the services: lifespan, error handlers, common routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from services.common import routes
from services.common.metrics import MetricsMiddleware
from services.common.serving import (
    ModelUnavailable,
    Overloaded,
    Runtime,
    ServeSettings,
    ServiceSpec,
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the log, load the model in the background so /health answers at once."""
    rt: Runtime = app.state.runtime
    rt.start()
    task = asyncio.create_task(asyncio.to_thread(rt.load))
    try:
        yield
    finally:
        await task
        rt.stop()


async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": f"model not loaded: {exc}"}, status_code=503)


async def _overloaded(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": "inference queue full"}, status_code=503, headers={"Retry-After": "1"}
    )


def create_app(spec: ServiceSpec, settings: ServeSettings, router: APIRouter) -> FastAPI:
    """Build one service's app around a fresh runtime."""
    app = FastAPI(title=spec.name, lifespan=lifespan)
    app.state.runtime = Runtime(spec, settings)
    app.add_exception_handler(ModelUnavailable, _unavailable)
    app.add_exception_handler(Overloaded, _overloaded)
    app.add_middleware(MetricsMiddleware, metrics=app.state.runtime.metrics)
    app.include_router(routes.router)
    app.include_router(router)
    return app
