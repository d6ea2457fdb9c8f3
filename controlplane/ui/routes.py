"""The dashboard's router: login and logout here, one module per page under views/.

Login checks the API token with identity's own `authenticate`, then exchanges it for a
server-side session (an HttpOnly, SameSite=Strict cookie on /ui). A refused login is recorded
(rate-limited) and says nothing about which part of the token was wrong.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from controlplane.context import AppContext
from controlplane.deps import context_of
from controlplane.errors import ControlPlaneError, Forbidden, Unauthenticated
from controlplane.identity import service as identity
from controlplane.identity.models import Principal
from controlplane.ui import service as sessions
from controlplane.ui.auth import (
    COOKIE,
    CSRF_FIELD,
    CSRF_REFUSED,
    LOGIN_COOKIE,
    CheckedForm,
    UiUser,
    field,
    secure,
)
from controlplane.ui.render import PREFIX, page
from controlplane.ui.views import approvals, audit, deployments, dora, incidents, overview, runs

router = APIRouter(prefix=PREFIX, include_in_schema=False)
# Each page's router carries its full prefix, so a refusal names the route as it was called.
ROUTERS = (
    router,
    *(v.router for v in (overview, approvals, deployments, runs, incidents, audit, dora)),
)

# Who a refused login is recorded as: nobody was authenticated.
ANONYMOUS = Principal("anonymous", "anonymous", "unknown", frozenset())
NOT_ACCEPTED = "that token was not accepted; check it and try again"


class LoginLimiter:
    """At most N refused-login records a minute for the whole plane (the rest are counted)."""

    def __init__(self, per_minute: int) -> None:
        self._per_minute = per_minute
        self._lock = threading.Lock()
        self._window = (0.0, 0)

    def allow(self) -> bool:
        now = time.monotonic()
        with self._lock:
            start, count = self._window
            if now - start >= 60:
                start, count = now, 0
            self._window = (start, count + 1)
            return count < self._per_minute


def _login_page(request: Request, status: int = 200, message: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    response = page(request, "login.html", {"login_csrf": token, "message": message}, status)
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="strict", path=PREFIX, secure=secure(request)
    )
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    """The login form: paste an API token."""
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    """Exchange a valid token for a session cookie; a bad token is refused and recorded."""
    ctx = context_of(request)
    form = await request.form()
    given, expected = form.get(CSRF_FIELD), request.cookies.get(LOGIN_COOKIE)
    if not (isinstance(given, str) and expected and secrets.compare_digest(given, expected)):
        raise Forbidden(CSRF_REFUSED, {"field": CSRF_FIELD})
    token = field(form, "token", 512).strip()
    try:
        login_ = await run_in_threadpool(_start, ctx, token)
    except Unauthenticated:
        await _record_refused_login(request, ctx)
        return _login_page(request, 401, NOT_ACCEPTED)
    response = RedirectResponse(f"{PREFIX}/", status_code=303)
    max_age = int((login_.expires_at - ctx.clock.now()).total_seconds())
    response.set_cookie(
        COOKIE, login_.session_id, max_age=max(max_age, 0), httponly=True, samesite="strict",
        path=PREFIX, secure=secure(request),
    )  # fmt: skip
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX, httponly=True, samesite="strict")
    return response


def _start(ctx: AppContext, token: str) -> sessions.Login:
    with Session(ctx.engine, expire_on_commit=False) as session:
        principal = identity.authenticate(
            session=session, clock=ctx.clock, token=token or None, cache=ctx.tokens
        )
        login_ = sessions.start(session=session, clock=ctx.clock, principal=principal)
        ctx.audit.record(
            session, principal, operation="ui.login", result="success",
            outputs={"expires_at": login_.expires_at.isoformat()},
        )  # fmt: skip
        session.commit()
    return login_


async def _record_refused_login(request: Request, ctx: AppContext) -> None:
    """Record who-knows-who tried a bad token (never the token, nor which part was wrong)."""
    ctx.metrics.unauthenticated.inc()
    limiter: LoginLimiter | None = getattr(request.app.state, "ui_login_limiter", None)
    if limiter is None:
        limiter = request.app.state.ui_login_limiter = LoginLimiter(
            ctx.settings.refusal_records_per_minute
        )
    if not limiter.allow():
        return
    with contextlib.suppress(ControlPlaneError):  # the log is down: the refusal stands anyway
        await ctx.audit.record_alone_async(
            ANONYMOUS, operation="ui.login", result="refused",
            inputs={"method": "POST", "path": request.url.path},
            outputs={"status": 401, "code": "unauthenticated", "reason": NOT_ACCEPTED},
        )  # fmt: skip


@router.post("/logout")
def logout(request: Request, user: UiUser, _: CheckedForm) -> Response:
    """End the session (the row is deleted, the cookie cleared)."""
    ctx = context_of(request)
    with Session(ctx.engine) as session:
        sessions.end(session=session, session_id=request.cookies.get(COOKIE))
        ctx.audit.record(session, user.principal, operation="ui.logout", result="success")
        session.commit()
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict")
    return response
