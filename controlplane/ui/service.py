"""Dashboard sessions: exchange a checked token for a session, resolve it, end it.

The cookie carries a random session id; the table keeps only its sha256. The CSRF token is
derived from the session id (so it changes with every login and never needs storing). Each
request re-reads the token the session came from: revoking it, or disabling its identity, ends
the session at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from controlplane.clock import Clock
from controlplane.errors import Unauthenticated
from controlplane.identity.models import ApiToken, Identity, Principal
from controlplane.ui.models import UiSession

SESSION_TTL = timedelta(hours=8)
EXPIRED = "your dashboard session has expired or was ended; log in again"


@dataclass(frozen=True)
class Login:
    """A new session: the cookie value (shown to the browser once) and when it ends."""

    session_id: str
    expires_at: datetime


@dataclass(frozen=True)
class Current:
    """Who a dashboard request acts as, and the CSRF token its forms must carry."""

    principal: Principal
    csrf: str
    expires_at: datetime


def hash_id(session_id: str) -> str:
    """sha256 of a session id (ids are 256-bit random, so a fast hash is enough)."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def csrf_for(session_id: str) -> str:
    """The CSRF token of a session: bound to it, useless without the HttpOnly cookie."""
    return hashlib.sha256(b"csrf\x00" + session_id.encode()).hexdigest()


def csrf_ok(expected: str, given: str | None) -> bool:
    """Compare a form's CSRF token in constant time."""
    return bool(given) and hmac.compare_digest(expected, given or "")


def start(*, session: Session, clock: Clock, principal: Principal) -> Login:
    """Open a session for an authenticated principal (its token's expiry caps the session)."""
    if principal.token_id is None:
        raise Unauthenticated("only a bearer token can log in to the dashboard")
    now = clock.now()
    token = session.get(ApiToken, principal.token_id)
    expires = now + SESSION_TTL
    if token is not None and token.expires_at is not None:
        expires = min(expires, token.expires_at)
    session.exec(delete(UiSession).where(col(UiSession.expires_at) <= now))
    session_id = secrets.token_urlsafe(32)
    session.add(
        UiSession(
            id_hash=hash_id(session_id),
            identity_id=principal.identity_id,
            token_id=principal.token_id,
            created_at=now,
            expires_at=expires,
        )
    )
    session.flush()
    return Login(session_id, expires)


def resolve(*, session: Session, clock: Clock, session_id: str | None) -> Current:
    """The principal behind a cookie, or 401 (unknown, expired, token revoked or expired)."""
    if not session_id:
        raise Unauthenticated("log in to use the dashboard")
    now = clock.now()
    row = session.exec(
        select(UiSession, ApiToken, Identity)
        .join(ApiToken, col(ApiToken.id) == col(UiSession.token_id))
        .join(Identity, col(Identity.id) == col(UiSession.identity_id))
        .where(UiSession.id_hash == hash_id(session_id))
    ).first()
    if row is None:
        raise Unauthenticated(EXPIRED)
    ui, token, who = row
    if (
        ui.expires_at <= now
        or token.revoked_at is not None
        or (token.expires_at is not None and token.expires_at <= now)
        or who.disabled
    ):
        raise Unauthenticated(EXPIRED)
    principal = Principal(who.id, who.name, who.kind, frozenset(who.roles), token.id)
    return Current(principal, csrf_for(session_id), ui.expires_at)


def end(*, session: Session, session_id: str | None) -> bool:
    """Delete a session (logout); True when there was one."""
    if not session_id:
        return False
    row = session.get(UiSession, hash_id(session_id))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True
