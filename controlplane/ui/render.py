"""Templates, static files and error pages of the dashboard (autoescaped, strict headers)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from controlplane.audit.redact import redact_text, sanitize
from controlplane.errors import ControlPlaneError

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
PREFIX = "/ui"
# No inline script or style, nothing from elsewhere, never framed.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class CachedStatic(StaticFiles):
    """Static files with a year-long cache: vendored names carry their version, ours a hash."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


@cache
def asset(name: str) -> str:
    """A static file's URL with its content hash, so a changed file is fetched again."""
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    return f"{PREFIX}/static/{name}?v={digest}"


def ago(value: datetime | str | None, now: datetime | None = None) -> str:
    """A time as people read it on a dashboard: '5 min ago'."""
    if value is None:
        return "never"
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = int(((now or datetime.now(UTC)) - when).total_seconds())
    if seconds < 0:
        return "in the future"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def stamp(value: datetime | str | None) -> str:
    """A UTC timestamp to the second."""
    if value is None:
        return ""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def pretty(value: Any) -> str:
    """JSON for people (secrets already redacted by the recorder; masked again here)."""
    return json.dumps(sanitize(value), indent=2, sort_keys=True, default=str)


@cache
def environment() -> jinja2.Environment:
    """The template environment: autoescape on for every template, undefined names fail."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(ago=ago, stamp=stamp, pretty=pretty)
    env.globals.update(asset=asset, prefix=PREFIX)
    return env


def page(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    """A full page: the layout gets who is logged in and the CSRF token for its forms."""
    ui = getattr(request.state, "ui", None)
    body = environment().get_template(template).render(
        user=ui.principal if ui else None, csrf=ui.csrf if ui else "", path=request.url.path,
        **context,
    )  # fmt: skip
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def error_page(request: Request, error: ControlPlaneError) -> HTMLResponse:
    """A refusal as a page: status, what was wrong, and which fields (never a stack trace)."""
    details = sanitize(error.details)
    errors = details.get("errors") if isinstance(details.get("errors"), list) else []
    context = {
        "status": error.status,
        "code": error.code,
        "message": redact_text(error.message),
        "errors": errors,
        "details": {k: v for k, v in details.items() if k != "errors"},
    }
    response = page(request, "error.html", context, status=error.status)
    if error.status == 401 and request.headers.get("HX-Request"):
        response.headers["HX-Redirect"] = f"{PREFIX}/login"  # a background refresh: log in again
    return response
