"""Identity use cases: issue tokens (hashed), resolve bearer tokens, bootstrap the admin."""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from controlplane.clock import Clock
from controlplane.errors import Conflict, Forbidden, Unauthenticated
from controlplane.identity.models import ApiToken, Identity, Principal, TokenCreate, TokenIssued

TOKEN_PREFIX = "cpt_"


def hash_token(token: str) -> str:
    """sha256 of a bearer token: tokens are 256-bit random, so a fast hash is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue(*, session: Session, clock: Clock, request: TokenCreate) -> TokenIssued:
    """Create the identity if new (kind and roles must match if it exists) and a token for it."""
    identity = session.exec(select(Identity).where(Identity.name == request.name)).first()
    if identity is None:
        identity = Identity(
            id=uuid.uuid4().hex,
            name=request.name,
            kind=request.kind,
            roles=sorted(set(request.roles)),
            created_at=clock.now(),
        )
        session.add(identity)
        session.flush()
    elif identity.kind != request.kind or sorted(identity.roles) != sorted(set(request.roles)):
        raise Conflict(
            f"identity {request.name!r} exists with kind {identity.kind} and roles "
            f"{', '.join(identity.roles)}; ask for the same kind and roles to add a token",
            {"name": request.name},
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = clock.now() + timedelta(hours=request.ttl_hours) if request.ttl_hours else None
    row = ApiToken(
        id=uuid.uuid4().hex,
        identity_id=identity.id,
        token_hash=hash_token(token),
        prefix=token[:10],
        created_at=clock.now(),
        expires_at=expires,
    )
    session.add(row)
    session.flush()
    return TokenIssued(
        identity_id=identity.id,
        name=identity.name,
        kind=identity.kind,
        roles=list(identity.roles),
        token=token,
        token_id=row.id,
        expires_at=expires,
    )


class TokenCache:
    """Resolved tokens for a few seconds, so auth is not a query per request."""

    def __init__(self, ttl_s: float = 5.0) -> None:
        self._ttl = ttl_s
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, Principal]] = {}

    def get(self, token_hash: str) -> Principal | None:
        """A cached principal, if still fresh."""
        with self._lock:
            hit = self._items.get(token_hash)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        return None

    def put(self, token_hash: str, principal: Principal) -> None:
        """Remember a resolved token."""
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[token_hash] = (time.monotonic() + self._ttl, principal)

    def clear(self) -> None:
        """Forget everything (after a revocation)."""
        with self._lock:
            self._items.clear()


def authenticate(
    *, session: Session, clock: Clock, token: str | None, cache: TokenCache
) -> Principal:
    """Resolve a bearer token to its principal or refuse with 401."""
    if not token:
        raise Unauthenticated("missing bearer token (Authorization: Bearer <token>)")
    token_hash = hash_token(token)
    cached = cache.get(token_hash)
    if cached is not None:
        return cached
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash)).first()
    now = clock.now()
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("unknown or revoked token")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthenticated("token expired", {"expired_at": row.expires_at.isoformat()})
    identity = session.get(Identity, row.identity_id)
    if identity is None or identity.disabled:
        raise Unauthenticated("the token's identity is disabled")
    principal = Principal(identity.id, identity.name, identity.kind, frozenset(identity.roles))
    cache.put(token_hash, principal)
    return principal


def require(principal: Principal, role: str) -> None:
    """Refuse with 403 unless the principal holds a role that implies `role`."""
    if not principal.has(role):
        raise Forbidden(
            f"{principal.name} ({principal.kind}) lacks the {role!r} role",
            {"required_role": role, "roles": sorted(principal.roles)},
        )


def bootstrap_admin(*, session: Session, clock: Clock, token_path: Path) -> str | None:
    """On the first start, create the admin and write its token (mode 0600); return it once."""
    if session.exec(select(Identity).limit(1)).first() is not None:
        return None
    try:
        issued = issue(
            session=session,
            clock=clock,
            request=TokenCreate(
                name="admin", kind="human", roles=["admin", "approver", "operator", "viewer"]
            ),
        )
        session.commit()
    except IntegrityError:
        session.rollback()  # another replica bootstrapped at the same moment
        return None
    token_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(issued.token + "\n")
    os.chmod(token_path, 0o600)
    return issued.token
