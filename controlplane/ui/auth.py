"""Who a dashboard request acts as (the session cookie) and the CSRF check of every form.

The resolved principal is put on `request.state.principal`, as the API's bearer dependency does,
so a refused POST is recorded under its name by the app's one refusal handler.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session
from starlette.datastructures import FormData

from controlplane.deps import context_of
from controlplane.errors import Forbidden
from controlplane.ui import service as sessions

COOKIE = "cp_session"
LOGIN_COOKIE = "cp_login_csrf"  # double-submit token of the login form (no session yet)
CSRF_FIELD = "csrf_token"
CSRF_REFUSED = "missing or wrong CSRF token: reload the page and submit the form again"


def current(request: Request) -> sessions.Current:
    """The logged-in principal, or 401 (no cookie, expired, logged out, token revoked)."""
    ctx = context_of(request)
    with Session(ctx.read_engine) as session:
        now = sessions.resolve(
            session=session, clock=ctx.clock, session_id=request.cookies.get(COOKIE)
        )
    request.state.principal = now.principal
    request.state.ui = now
    return now


UiUser = Annotated[sessions.Current, Depends(current)]


async def checked_form(request: Request, user: UiUser) -> FormData:
    """The submitted form, once its CSRF token matches the session's (403 otherwise)."""
    form = await request.form()
    given = form.get(CSRF_FIELD)
    if not sessions.csrf_ok(user.csrf, given if isinstance(given, str) else None):
        raise Forbidden(CSRF_REFUSED, {"field": CSRF_FIELD})
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def field(form: FormData, name: str, limit: int = 2000) -> str:
    """A text field of a form (absent: empty), bounded."""
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def secure(request: Request) -> bool:
    """Cookies are Secure when the dashboard is served over https."""
    return request.url.scheme == "https"
