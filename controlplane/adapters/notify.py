"""Notifier: tell owners. The default writes each notice to the log and keeps the last ones."""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

log = logging.getLogger("controlplane.notify")


@dataclass(frozen=True)
class Notice:
    """One notice sent."""

    id: str
    channel: str
    subject: str
    body: str
    sent_at: datetime


class Notifier(Protocol):
    """Something that delivers a notice to a channel (chat, mail, pager)."""

    def send(self, channel: str, subject: str, body: str, *, idempotency_key: str) -> Notice:
        """Deliver once per key."""
        ...


class LogNotifier:
    """The embedded default: one log line per notice, the last 1000 kept; once per key."""

    def __init__(self, keep: int = 1000) -> None:
        self._sent: OrderedDict[str, Notice] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()

    def send(self, channel: str, subject: str, body: str, *, idempotency_key: str) -> Notice:
        """Log the notice unless this key sent it already."""
        with self._lock:
            if idempotency_key in self._sent:
                return self._sent[idempotency_key]
            notice = Notice(uuid.uuid4().hex, channel, subject, body, datetime.now(UTC))
            self._sent[idempotency_key] = notice
            while len(self._sent) > self._keep:
                self._sent.popitem(last=False)
        log.info("notice to %s: %s", channel, subject)
        return notice

    def sent(self) -> list[Notice]:
        """What was sent, oldest first (tests read it)."""
        with self._lock:
            return list(self._sent.values())


RecordingNotifier = LogNotifier  # the fake is the default: it records and logs
