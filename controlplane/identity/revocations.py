"""Revocations heard across replicas: PostgreSQL NOTIFY on revoke/disable, LISTEN in each plane.

A replica clears its token cache when another one revokes a token or disables an identity. While
it cannot listen (connection lost), it caches nothing, so a revocation is never missed.
"""

from __future__ import annotations

import logging
import threading

from controlplane.identity.service import CHANNEL, TokenCache

log = logging.getLogger(__name__)


class RevocationListener:
    """A daemon thread that LISTENs and clears the cache on every notification."""

    def __init__(self, url: str, cache: TokenCache, *, poll_s: float = 1.0) -> None:
        self._url = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self._cache = cache
        self._poll_s = poll_s
        self._stop = threading.Event()
        cache.set_enabled(False)  # until LISTEN is in place
        self._thread = threading.Thread(target=self._run, name="auth-revocations", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._cache.set_enabled(True)
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=self._poll_s, stop_after=1):
                            self._cache.clear()
            except psycopg.Error as exc:
                self._cache.set_enabled(False)  # fail closed: no cache we cannot invalidate
                log.warning("revocation listener lost its connection (%s); retrying", exc)
                self._stop.wait(self._poll_s)

    def close(self) -> None:
        """Stop listening."""
        self._stop.set()
        self._thread.join(timeout=5)
