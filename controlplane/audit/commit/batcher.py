"""Group commit for standalone audit records (decisions): many appends, one transaction, one fsync.

A decision changes nothing but the log, so its record *is* the change. Callers block until the
batch holding their record has committed, so a response is never sent for an unrecorded decision;
if the commit fails, every caller in the batch gets AuditUnavailable (503).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any, Protocol

from sqlalchemy import Engine

from controlplane.audit.commit.sql import DirectAppender, write_failed
from controlplane.audit.models import Appended
from controlplane.audit.signing import Signer
from controlplane.clock import Clock, iso
from controlplane.errors import AuditUnavailable, ControlPlaneError

log = logging.getLogger(__name__)

# (entry, waiter): a concurrent Future for threads, or (loop, asyncio.Future) for coroutines.
Item = tuple[Mapping[str, Any], Any]


class Committer(Protocol):
    """Group commit for records whose only effect is the record (decisions)."""

    def submit(self, entry: Mapping[str, Any], timeout_s: float = 30.0) -> Appended:
        """Record from a thread; returns once committed."""

    async def append(self, entry: Mapping[str, Any], timeout_s: float = 30.0) -> Appended:
        """Record from the event loop; returns once committed."""

    def close(self) -> None:
        """Finish what was handed over, then stop."""


Outcome = list[Appended] | BaseException


class GroupCommitter:
    """One writer thread that drains queued entries into shared transactions."""

    def __init__(
        self,
        *,
        engine: Engine,
        clock: Clock,
        signer: Signer,
        checkpoint_every: Callable[[], int],
        max_batch: int = 512,
    ) -> None:
        self._appender = DirectAppender(engine)
        self._clock = clock
        self._signer = signer
        self._checkpoint_every = checkpoint_every
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[list[Item] | None] = queue.SimpleQueue()
        # Entries awaited on an event loop are handed to the writer once per loop iteration, not
        # once per entry: fewer thread wake-ups, bigger batches, less fighting over the GIL.
        self._gathering: dict[asyncio.AbstractEventLoop, list[Item]] = {}
        self._thread = threading.Thread(target=self._run, name="audit-group-commit", daemon=True)
        self._stopped = False
        self._thread.start()

    def enqueue(self, entry: Mapping[str, Any]) -> Future[Appended]:
        """Queue an entry (from make_entry); the future resolves once it is durably committed."""
        if self._stopped:
            raise AuditUnavailable("the audit writer is stopped; nothing was recorded")
        future: Future[Appended] = Future()
        self._queue.put([(entry, future)])
        return future

    def submit(self, entry: Mapping[str, Any], timeout_s: float = 30.0) -> Appended:
        """Queue an entry and block until it is durably committed (threads, scripts)."""
        try:
            return self.enqueue(entry).result(timeout=timeout_s)
        except TimeoutError as exc:
            raise AuditUnavailable("the audit log did not commit in time") from exc

    async def append(self, entry: Mapping[str, Any], timeout_s: float = 30.0) -> Appended:
        """Queue an entry and await its commit without holding a thread."""
        if self._stopped:
            raise AuditUnavailable("the audit writer is stopped; nothing was recorded")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Appended] = loop.create_future()
        gathering = self._gathering.get(loop)
        if gathering is None:
            gathering = self._gathering[loop] = []
            loop.call_soon(self._hand_over, loop)
        gathering.append((entry, (loop, future)))
        try:
            async with asyncio.timeout(timeout_s):  # no extra task, unlike wait_for
                return await future
        except TimeoutError as exc:
            raise AuditUnavailable("the audit log did not commit in time") from exc

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """Give the writer what this loop gathered during one iteration."""
        self._queue.put(self._gathering.pop(loop))

    def close(self) -> None:
        """Finish what is queued, then stop the writer thread."""
        if not self._stopped:
            self._stopped = True
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._appender.close()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = list(first)
            while len(batch) < self._max_batch:
                try:
                    items = self._queue.get_nowait()
                except queue.Empty:
                    break
                if items is None:
                    self._queue.put(None)
                    break
                batch.extend(items)
            self._commit(batch)

    def _commit(self, batch: list[Item]) -> None:
        try:
            [appended] = self._appender.append(
                [([entry for entry, _ in batch], iso(self._clock.now()))],
                signer=self._signer,
                checkpoint_every=self._checkpoint_every(),
            )
        except ControlPlaneError as exc:
            _settle(batch, exc)
            return
        except Exception as exc:  # driver errors (sqlite3, psycopg): fail closed
            log.error("audit group commit failed: %s", exc.__class__.__name__)
            _settle(batch, write_failed(exc.__class__.__name__))
            return
        _settle(batch, appended)


def _settle(batch: list[Item], outcome: Outcome) -> None:
    """Resolve every waiter; event-loop waiters are woken once per loop, not once per record."""
    per_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, Appended | BaseException]]] = {}
    for i, (_, waiter) in enumerate(batch):
        result = outcome if isinstance(outcome, BaseException) else outcome[i]
        if isinstance(waiter, Future):
            if isinstance(result, BaseException):
                waiter.set_exception(result)
            else:
                waiter.set_result(result)
        else:
            per_loop.setdefault(waiter[0], []).append((waiter[1], result))
    for loop, pairs in per_loop.items():
        if not loop.is_closed():
            loop.call_soon_threadsafe(_resolve, pairs)


def _resolve(pairs: list[tuple[Any, Appended | BaseException]]) -> None:
    for future, result in pairs:
        if future.done():  # the caller timed out or went away
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
