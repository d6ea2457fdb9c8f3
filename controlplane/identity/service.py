"""Identity use cases: mint and store tokens (hashed), resolve bearer tokens, revoke, disable.

Issuing, revoking, disabling and enabling are governed actions (kinds.py); this module holds what
they do. A token is minted before it is decided, so its secret is shown to the caller once and
only its sha256 is ever stored, even when the issue waits for approval.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from controlplane import db
from controlplane.clock import Clock
from controlplane.errors import Conflict, Forbidden, NotFound, Unauthenticated
from controlplane.identity.models import (
    ApiToken,
    Identity,
    Principal,
    TokenCreate,
    TokenPublic,
)

TOKEN_PREFIX = "cpt_"
TOKENS = "tokens"  # the change topic that clears cached principals after commit


def hash_token(token: str) -> str:
    """sha256 of a bearer token: tokens are 256-bit random, so a fast hash is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


def mint() -> str:
    """A new random bearer token (shown once, never stored)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def check_issue(*, session: Session, request: TokenCreate) -> None:
    """An existing identity gets more tokens only for the same kind and roles."""
    identity = session.exec(select(Identity).where(Identity.name == request.name)).first()
    if identity is not None and (
        identity.kind != request.kind or sorted(identity.roles) != sorted(set(request.roles))
    ):
        raise Conflict(
            f"identity {request.name!r} exists with kind {identity.kind} and roles "
            f"{', '.join(identity.roles)}; ask for the same kind and roles to add a token",
            {"name": request.name},
        )


def store_token(
    *, session: Session, clock: Clock, request: TokenCreate, token_sha256: str, prefix: str
) -> tuple[Identity, ApiToken]:
    """Create the identity if new and store a token by its hash (token.issue checked it)."""
    identity = session.exec(select(Identity).where(Identity.name == request.name)).first()
    now = clock.now()
    if identity is None:
        identity = Identity(
            id=uuid.uuid4().hex,
            name=request.name,
            kind=request.kind,
            roles=sorted(set(request.roles)),
            created_at=now,
        )
        session.add(identity)
        session.flush()
    row = ApiToken(
        id=uuid.uuid4().hex,
        identity_id=identity.id,
        token_hash=token_sha256,
        prefix=prefix,
        created_at=now,
        expires_at=now + timedelta(hours=request.ttl_hours) if request.ttl_hours else None,
    )
    session.add(row)
    session.flush()
    return identity, row


def check_disable(*, name: str, requester: str) -> None:
    """No identity disables itself: a lone admin would lock everyone out for good (409)."""
    if name == requester:
        raise Conflict(
            f"{name} cannot disable itself (its own tokens would stop working); "
            "another admin can disable it",
            {"name": name},
        )


def check_not_own_token(*, caller: Principal, token_id: str) -> None:
    """A token does not revoke itself: a lone admin would be locked out for good (409).

    Issue a new token first and revoke the old one with it.
    """
    if caller.token_id == token_id:
        raise Conflict(
            "a token cannot revoke itself; issue another and revoke this one with it",
            {"token_id": token_id},
        )


def revocable(*, session: Session, token_id: str) -> ApiToken:
    """A token that can still be revoked (404 unknown, 409 already revoked)."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"token {token_id} not found")
    if row.revoked_at is not None:
        raise Conflict(f"token {token_id} is already revoked", {"revoked_at": str(row.revoked_at)})
    return row


def revoke(*, session: Session, clock: Clock, token_id: str) -> ApiToken:
    """Revoke a token at once (cached principals are dropped when this commits)."""
    row = revocable(session=session, token_id=token_id)
    row.revoked_at = clock.now()
    session.add(row)
    session.flush()
    _changed(session)
    return row


def set_disabled(*, session: Session, name: str, disabled: bool) -> Identity:
    """Disable (every token refused at once) or enable an identity."""
    identity = get_identity(session=session, name=name)
    if identity.disabled == disabled:
        state = "disabled" if disabled else "enabled"
        raise Conflict(f"identity {name} is already {state}")
    identity.disabled = disabled
    session.add(identity)
    session.flush()
    _changed(session)
    return identity


def _changed(session: Session) -> None:
    """Tell every replica's token cache, once this commits."""
    db.mark_changed(session, TOKENS)


def get_identity(*, session: Session, name: str) -> Identity:
    """One identity by name, or 404."""
    identity = session.exec(select(Identity).where(Identity.name == name)).first()
    if identity is None:
        raise NotFound(f"identity {name} not found")
    return identity


def list_tokens(*, session: Session) -> list[TokenPublic]:
    """Every token with its identity (never a secret)."""
    rows = session.exec(
        select(ApiToken, Identity)
        .join(Identity, col(Identity.id) == col(ApiToken.identity_id))
        .order_by(col(ApiToken.created_at))
    ).all()
    return [
        TokenPublic(
            id=token.id,
            identity=who.name,
            kind=who.kind,
            prefix=token.prefix,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
        )
        for token, who in rows
    ]


class TokenCache:
    """Resolved tokens for a few seconds, so auth is not a query per request.

    An entry never outlives its token's expiry (checked against the plane's clock on every hit),
    and `clear` (a revocation, a disabled identity, here or on another replica) drops all; a
    lookup that began before a `clear` may not store what it read (the generation tells it).
    `set_enabled(False)` turns caching off while other replicas' revocations cannot be heard.
    """

    def __init__(self, ttl_s: float = 5.0) -> None:
        self._ttl = ttl_s
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, datetime | None, Principal]] = {}
        self._enabled = True
        self.generation = 0

    def get(self, token_hash: str, now: datetime) -> Principal | None:
        """A cached principal, if still fresh and its token not expired at `now`."""
        with self._lock:
            hit = self._items.get(token_hash)
        if hit is None or hit[0] <= time.monotonic():
            return None
        if hit[1] is not None and hit[1] <= now:
            return None
        return hit[2]

    def put(
        self, token_hash: str, principal: Principal, expires_at: datetime | None, generation: int
    ) -> None:
        """Remember a resolved token, unless caching is off or a clear came after its lookup."""
        with self._lock:
            if not self._enabled or generation != self.generation:
                return
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[token_hash] = (time.monotonic() + self._ttl, expires_at, principal)

    def clear(self) -> None:
        """Forget everything (after a revocation or a disabled identity)."""
        with self._lock:
            self._items.clear()
            self.generation += 1

    def set_enabled(self, enabled: bool) -> None:
        """Cache or not (off while this replica cannot hear other replicas' revocations)."""
        with self._lock:
            self._enabled = enabled
            self._items.clear()
            self.generation += 1


def authenticate(
    *, session: Session, clock: Clock, token: str | None, cache: TokenCache
) -> Principal:
    """Resolve a bearer token to its principal or refuse with 401."""
    if not token:
        raise Unauthenticated("missing bearer token (Authorization: Bearer <token>)")
    token_hash = hash_token(token)
    now = clock.now()
    cached = cache.get(token_hash, now)
    if cached is not None:
        return cached
    generation = cache.generation  # before reading: a revocation meanwhile voids what we read
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash)).first()
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("unknown or revoked token")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthenticated("token expired", {"expired_at": row.expires_at.isoformat()})
    identity = session.get(Identity, row.identity_id)
    if identity is None or identity.disabled:
        raise Unauthenticated("the token's identity is disabled")
    roles = frozenset(identity.roles)
    principal = Principal(identity.id, identity.name, identity.kind, roles, row.id)
    cache.put(token_hash, principal, row.expires_at, generation)
    return principal


def require(principal: Principal, role: str) -> None:
    """Refuse with 403 unless the principal holds a role that implies `role`."""
    if not principal.has(role):
        raise Forbidden(
            f"{principal.name} ({principal.kind}) lacks the {role!r} role",
            {"required_role": role, "roles": sorted(principal.roles)},
        )


ADMIN = TokenCreate(name="admin", kind="human", roles=["admin", "approver", "operator", "viewer"])


def bootstrap_admin(*, session: Session, clock: Clock, token_path: Path) -> str | None:
    """On the first start, create the admin and write its token (mode 0600); return it once."""
    if session.exec(select(Identity).limit(1)).first() is not None:
        return None
    token = mint()
    try:
        store_token(
            session=session,
            clock=clock,
            request=ADMIN,
            token_sha256=hash_token(token),
            prefix=token[:10],
        )
        session.commit()
    except IntegrityError:
        session.rollback()  # another replica bootstrapped at the same moment
        return None
    token_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    os.chmod(token_path, 0o600)
    return token
