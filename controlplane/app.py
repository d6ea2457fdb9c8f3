"""The HTTP application: `create_app(settings)` wires routers, errors, limits and health."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from controlplane import openapi
from controlplane.adapters.base import MetricsSource, WorkloadBackend
from controlplane.approval import routes as approval_routes
from controlplane.audit import routes as audit_routes
from controlplane.audit.models import AuditHead
from controlplane.audit.redact import redact_text, sanitize
from controlplane.chat import routes as chat_routes
from controlplane.clock import Clock
from controlplane.config import Settings
from controlplane.context import AppContext, build_context
from controlplane.deploy import routes as deploy_routes
from controlplane.dora import gauges as dora_gauges
from controlplane.dora import routes as dora_routes
from controlplane.errors import (
    ControlPlaneError,
    InvalidRequest,
    MalformedJson,
    MethodNotAllowed,
    NotFound,
    NotReady,
    PayloadTooLarge,
    Unavailable,
)
from controlplane.governance import routes as governance_routes
from controlplane.handoff import routes as handoff_routes
from controlplane.identity import routes as identity_routes
from controlplane.incident import issues as incident_issues
from controlplane.incident import routes as incident_routes
from controlplane.playbook import routes as playbook_routes
from controlplane.policy import routes as policy_routes
from controlplane.refusals import RefusalLog
from controlplane.release import routes as release_routes
from controlplane.risk import routes as risk_routes
from controlplane.ui import render as ui_render
from controlplane.ui import routes as ui_routes

log = logging.getLogger(__name__)

ROUTERS = (
    policy_routes.router,
    risk_routes.router,
    incident_routes.router,
    incident_routes.webhooks,
    audit_routes.router,
    identity_routes.router,
    deploy_routes.router,
    approval_routes.router,
    governance_routes.router,
    handoff_routes.router,
    release_routes.router,
    playbook_routes.router,
    chat_routes.router,
    dora_routes.router,
)


class BodyLimit:
    """Refuse request bodies over the limit before they are read into memory (413)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(self.max_bytes)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise PayloadTooLarge(
                    f"request body over {self.max_bytes} bytes", {"limit_bytes": self.max_bytes}
                )
            return message

        await self.app(scope, limited, send)


class Timing:
    """Request latency by route and status (pure ASGI: BaseHTTPMiddleware costs too much)."""

    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx
        self._series: dict[tuple[str, str, int], Any] = {}  # labels() is costly per request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            key = (scope["method"], getattr(scope.get("route"), "path", "unmatched"), status)
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = self.ctx.metrics.requests.labels(
                    key[0], key[1], str(status)
                )
            series.observe(time.perf_counter() - start)


def _too_large(limit: int) -> JSONResponse:
    return _error_response(
        PayloadTooLarge(f"request body over {limit} bytes", {"limit_bytes": limit})
    )


def _error_response(
    error: ControlPlaneError, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The §11 error envelope with the error's own status: the one place errors become HTTP.

    Messages and details are redacted here too: an error may quote the input it refuses.
    """
    body = error.to_json()
    body["error"]["message"] = redact_text(error.message)
    body["error"]["details"] = sanitize(error.details)
    return JSONResponse(body, status_code=error.status, headers=headers)


def _allow(request: Request) -> dict[str, str]:
    """A 405's `Allow` header: every method some route serves on this path (RFC 9110).

    Starlette names only the first route that matched the path; a path may have several.
    """
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods or set()
    return {"Allow": ", ".join(sorted(methods))}


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        errors.append({"field": ".".join(loc), "reason": err.get("msg", "invalid")})
    return errors


def _as_error(exc: Exception) -> ControlPlaneError:
    """Every exception the handlers see, as one of ours."""
    if isinstance(exc, ControlPlaneError):
        return exc
    if isinstance(exc, RequestValidationError):
        details = _validation_details(exc)
        malformed = any(e["reason"].startswith("JSON decode error") for e in details)
        first = details[0] if details else {"field": "", "reason": "invalid"}
        invalid = MalformedJson if malformed else InvalidRequest
        return invalid(f"{first['field'] or 'request'}: {first['reason']}", {"errors": details})
    if isinstance(exc, StarletteHTTPException):
        known: dict[int, type[ControlPlaneError]] = {404: NotFound, 405: MethodNotAllowed}
        cls = known.get(exc.status_code)
        if cls is not None:
            return cls(str(exc.detail))
        return _http_error(exc.status_code, str(exc.detail))
    log.error("database error: %s", exc.__class__.__name__)
    return Unavailable(
        "the database is unavailable; nothing was changed", {"cause": exc.__class__.__name__}
    )


def _http_error(status: int, message: str) -> ControlPlaneError:
    """An HTTP status our tree has no class for, as an error of that status."""
    cls: type[ControlPlaneError] = type(
        "HttpError", (ControlPlaneError,), {"status": status, "code": "http_error"}
    )
    return cls(message)


def _install_error_handlers(app: FastAPI, refusals: RefusalLog) -> None:
    async def handle(request: Request, exc: Exception) -> Response:
        error = _as_error(exc)
        await refusals.refused(request, error)
        if request.url.path.startswith(ui_render.PREFIX + "/") or request.url.path == "/ui":
            return ui_render.error_page(request, error)  # the dashboard's refusals are pages
        return _error_response(error, _allow(request) if error.status == 405 else None)

    for cls in (ControlPlaneError, RequestValidationError, StarletteHTTPException, SQLAlchemyError):
        app.add_exception_handler(cls, handle)


def _install_ops_routes(app: FastAPI, ctx: AppContext) -> None:
    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    not_ready: dict[int | str, dict[str, Any]] = {
        503: {"description": "not ready: the body says which check failed"}
    }

    @app.get("/readyz", tags=["ops"], responses=not_ready)
    def readyz() -> JSONResponse:
        """Readiness: database reachable, audit head writable (locked), a policy loaded."""
        checks: dict[str, str] = {}
        try:
            with Session(ctx.engine) as session:
                head = AuditHead.__table__  # type: ignore[attr-defined]
                query = select(head.c.seq).where(head.c.id == 1).with_for_update()
                session.connection().execute(query).one()  # rolled back on close
            checks["database"] = checks["audit"] = "ok"
        except SQLAlchemyError as exc:
            checks["database"] = checks["audit"] = f"failed: {exc.__class__.__name__}"
        checks["policy"] = "ok" if ctx.policies.current() else f"none: {ctx.policies.last_error}"
        if all(v == "ok" for v in checks.values()):
            return JSONResponse({"ready": True, "checks": checks})
        error = NotReady("the plane is not ready", {"checks": checks})
        return JSONResponse({**error.to_json(), "ready": False, "checks": checks}, status_code=503)

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    def metrics() -> Response:
        """Prometheus metrics of the plane."""
        return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def _sweep_expired(ctx: AppContext) -> None:
    """Every `approval_sweep_s`: close approvals past their TTL and end what they were for."""

    def sweep() -> None:
        with Session(ctx.engine, expire_on_commit=False) as session:
            if ctx.door.expire_due(session=session):
                session.commit()

    while True:
        await asyncio.sleep(ctx.settings.approval_sweep_s)
        try:
            await asyncio.to_thread(sweep)
        except Exception as exc:  # the next round tries again; a vote also expires requests
            log.warning("approval sweep failed: %s", exc.__class__.__name__)


def tune_gc() -> None:
    """Server processes: freeze start-up objects and collect young garbage less often.

    Full collections over the long-lived start-up heap stalled requests by ~100 ms (p99) under
    load; freezing it (as large Python web services do) removes those pauses.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    metrics_source: MetricsSource | None = None,
    workloads: WorkloadBackend | None = None,
) -> FastAPI:
    """Build the plane: connect and migrate, then mount every router."""
    ctx = build_context(settings, clock=clock, metrics_source=metrics_source, workloads=workloads)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        """Start-up work before the first request, background work while serving, shutdown."""
        ctx.executor.recover_interrupted()
        ctx.worker.start()  # its first pass runs what a stopped plane left approved
        ctx.playbooks.worker.start()  # and resumes runs whose replica stopped (expired leases)
        tasks = [asyncio.create_task(_sweep_expired(ctx))]
        if ctx.settings.github_issue_on_p1 and ctx.source_control and ctx.settings.github_repo:
            filing = incident_issues.keep_filing(
                engine=ctx.engine, clock=ctx.clock, source=ctx.source_control,
                repo=ctx.settings.github_repo, every_s=lambda: ctx.settings.github_issue_every_s,
            )  # fmt: skip
            tasks.append(asyncio.create_task(filing))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            ctx.close()  # stops the worker; a rollout in flight ends with the plane

    app = FastAPI(
        title="ML ops control plane",
        version="0.1.0",
        description="Decides AUTO / CONSULT / STOP for every operational action, "
        "explains why, and records it in a hash-chained audit log.",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    refusals = RefusalLog(
        audit=ctx.audit, metrics=ctx.metrics, per_minute=settings.refusal_records_per_minute
    )
    _install_error_handlers(app, refusals)
    for router in ROUTERS:
        app.include_router(router)
    ctx.metrics.watch(  # the dora_* gauges, computed when /metrics is scraped
        dora_gauges.DoraCollector(engine=ctx.read_engine, clock=ctx.clock, parts=lambda: ctx.dora)
    )
    app.mount(f"{ui_render.PREFIX}/static", ui_render.CachedStatic(directory=ui_render.STATIC))
    for router in ui_routes.ROUTERS:
        app.include_router(router)
    app.router.routes[:0] = policy_routes.HOT_ROUTES  # matched before the routers (see there)
    _install_ops_routes(app, ctx)
    openapi.install(app)

    app.add_middleware(Timing, ctx=ctx)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
