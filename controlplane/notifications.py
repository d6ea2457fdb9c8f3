"""Changes heard across replicas: `db.mark_changed` NOTIFYs on PostgreSQL, each plane LISTENs.

A replica drops its caches (signal readings, token principals) when another one commits a change
to what they hold. While it cannot listen (connection lost), `on_lost` runs (the token cache then
caches nothing, so a revocation is never missed) and on reconnect `on_listening` runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)
PREFIX = "controlplane_"  # channel = PREFIX + topic


def channel(topic: str) -> str:
    """The PostgreSQL channel of a change topic."""
    return PREFIX + topic


class ChangeListener:
    """A daemon thread that LISTENs to each topic's channel and runs its callback on notify."""

    def __init__(
        self,
        url: str,
        topics: Mapping[str, Callable[[], None]],
        *,
        on_lost: Callable[[], None],
        on_listening: Callable[[], None],
        poll_s: float = 1.0,
    ) -> None:
        self._url = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self._topics = dict(topics)
        self._on_lost = on_lost
        self._on_listening = on_listening
        self._poll_s = poll_s
        self._stop = threading.Event()
        on_lost()  # until LISTEN is in place
        self._thread = threading.Thread(target=self._run, name="change-listener", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # any failure: caches stay off until we listen again
                self._on_lost()
                log.warning("change listener lost its connection (%s); retrying", exc)
                self._stop.wait(self._poll_s)

    def _listen(self) -> None:
        import psycopg

        with psycopg.connect(self._url, autocommit=True) as conn:
            for topic in self._topics:
                conn.execute(f"LISTEN {channel(topic)}")
            self._on_listening()
            while not self._stop.is_set():
                for note in conn.notifies(timeout=self._poll_s, stop_after=1):
                    topic = note.channel.removeprefix(PREFIX)
                    callback = self._topics.get(topic)
                    if callback is not None:
                        callback()

    def close(self) -> None:
        """Stop listening."""
        self._stop.set()
        self._thread.join(timeout=5)
