"""A polling pool: a thread that finds work by id and runs each id once at a time, several at once.

The deployment worker and the playbook run worker share it. Woken by `kick()` (a request, a
quorum, another replica's NOTIFY) and every `poll_s`; the finder's claim in the database (a
conditional UPDATE or a lease) keeps an id to one runner across replicas, this pool to one
runner per process.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger(__name__)


class PollingPool:
    """Finds ids with `find()`, runs `work(id)` in a pool, never the same id twice at once."""

    def __init__(
        self,
        *,
        name: str,
        find: Callable[[], list[str]],
        work: Callable[[str], None],
        poll_s: float,
        parallel: int,
    ) -> None:
        self.name = name
        self.poll_s = poll_s
        self._find = find
        self._work = work
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix=name)
        self._running: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self, *also: tuple[str, Callable[[], None]]) -> None:
        """Begin watching (idempotent), with any companion threads (a lease heartbeat)."""
        if self._threads:
            return
        for thread_name, target in ((f"{self.name}-worker", self._loop), *also):
            thread = threading.Thread(target=target, name=thread_name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def kick(self) -> None:
        """Something became runnable: look now rather than at the next poll."""
        self._wake.set()

    def stopping(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s`; whether the pool is stopping (for companion loops)."""
        return self._stopping.wait(timeout_s)

    def stop(self, *, timeout_s: float = 0.5) -> None:
        """Stop taking work; work in flight ends with the process (recovery takes it over)."""
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=timeout_s)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def in_flight(self) -> list[str]:
        """The ids running here now."""
        with self._lock:
            return list(self._running)

    def run_pending(self) -> list[str]:
        """Start every found id not already running here; return the ones started."""
        started = []
        for item in self._find():
            with self._lock:
                if item in self._running or self._stopping.is_set():
                    continue
                future = self._pool.submit(self._run, item)
                self._running[item] = future
            future.add_done_callback(functools.partial(self._done, item))
            started.append(item)
        return started

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self.run_pending()
            except Exception as exc:  # a database hiccup: try again at the next poll
                log.warning("%s pass failed: %s", self.name, exc.__class__.__name__)
            self._wake.wait(self.poll_s)

    def _run(self, item: str) -> None:
        try:
            self._work(item)
        except Exception:
            log.exception("%s could not run %s", self.name, item)

    def _done(self, item: str, _: Future[None]) -> None:
        with self._lock:
            self._running.pop(item, None)
        self._wake.set()  # a finished one may have been holding what another waits for
