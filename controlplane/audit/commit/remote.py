"""The plane's side of the audit writer process (see writer.py): hand over, await the commit.

One frame is in flight at a time: while the writer commits it, new entries gather, and its reply
both resolves its futures and sends everything gathered meanwhile as the next frame. So there is
one send (one wake-up of the writer, which is costly on virtual machines) per commit, not per
request. A request is answered only after the reply for its record says
committed. If the writer dies, every waiting request gets 503 (fail closed) and the next record
starts a new writer. Blocking callers (threads, scripts) append in their own transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

import controlplane
from controlplane.audit.commit.sql import append_in_session, write_failed
from controlplane.audit.commit.writer import FrameReader, pack, read_first_frame
from controlplane.audit.models import Appended
from controlplane.audit.signing import Signer
from controlplane.clock import Clock, iso
from controlplane.errors import AuditUnavailable

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 60.0
Waiters = list["asyncio.Future[Appended]"]


class ProcessCommitter:
    """Group commit through a writer process; one event loop at a time talks to it."""

    def __init__(
        self,
        *,
        engine: Engine,
        database_url: str,
        signing_key: Path,
        clock: Clock,
        signer: Signer,
        checkpoint_every: Callable[[], int],
        commit_timeout_s: float = 30.0,
    ) -> None:
        self._engine = engine
        self._commit_timeout_s = commit_timeout_s
        self._deadline: asyncio.TimerHandle | None = None
        self._database_url = database_url
        self._signing_key = signing_key
        self._clock = clock
        self._signer = signer
        self._checkpoint_every = checkpoint_every
        self._stopped = False
        self._spawn_lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._frames = FrameReader()
        self._out = bytearray()
        self._gathering: list[tuple[Mapping[str, Any], asyncio.Future[Appended]]] = []
        self._waiting: dict[int, Waiters] = {}
        self._next_id = 0
        self._in_flight: int | None = None
        self._start()

    @property
    def pid(self) -> int | None:
        """The writer process (None while it is being restarted)."""
        return self._proc.pid if self._proc is not None else None

    def submit(self, entry: Mapping[str, Any], timeout_s: float = 30.0) -> Appended:
        """Append from a thread or script: a transaction of its own (the head lock orders it)."""
        if self._stopped:
            raise AuditUnavailable("the audit writer is stopped; nothing was recorded")
        with Session(self._engine) as session:
            [appended] = append_in_session(
                session,
                [entry],
                ts=iso(self._clock.now()),
                signer=self._signer,
                every=self._checkpoint_every(),
            )
            session.commit()
        return appended

    async def append(self, entry: Mapping[str, Any], timeout_s: float = 30.0) -> Appended:
        """Hand the entry to the writer and await its commit (503 if it cannot be written).

        `timeout_s` bounds (re)starting the writer; the commit itself is bounded per frame: a
        writer that does not confirm a frame within `commit_timeout_s` is killed as hung.
        """
        if self._stopped:
            raise AuditUnavailable("the audit writer is stopped; nothing was recorded")
        loop = asyncio.get_running_loop()
        if self._sock is None or self._loop is not loop:
            try:
                async with asyncio.timeout(timeout_s):
                    await self._attach(loop)
            except TimeoutError as exc:
                raise AuditUnavailable("the audit writer did not start in time") from exc
        future: asyncio.Future[Appended] = loop.create_future()
        if not self._gathering:
            loop.call_soon(self._flush)
        self._gathering.append((entry, future))
        return await future

    def close(self) -> None:
        """Hang up: the writer commits what it received, then exits."""
        if self._stopped:
            return
        self._stopped = True
        self._detach()
        self._fail_waiting("the audit writer is stopped")
        sock, proc = self._sock, self._proc
        self._sock = self._proc = None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
        if proc is not None:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                log.error("audit writer did not exit in 30 s; killing it")
                proc.kill()
                proc.wait()
        if sock is not None:
            sock.close()

    # --- the writer process ---

    def _start(self) -> None:
        """Start a writer and wait until it has connected to the database."""
        parent, child = socket.socketpair()
        env = dict(os.environ)
        root = str(Path(controlplane.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "controlplane.audit.commit.writer", str(child.fileno())],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                env=env,
            )
        finally:
            child.close()
        try:
            parent.settimeout(_START_TIMEOUT_S)
            parent.sendall(
                pack(
                    {
                        "database_url": self._database_url,
                        "signing_key": str(self._signing_key),
                    }
                )
            )
            hello = read_first_frame(parent)
        except (OSError, ValueError) as exc:
            proc.kill()
            parent.close()
            raise AuditUnavailable(
                "the audit writer did not start", {"cause": exc.__class__.__name__}
            ) from exc
        if not hello.get("ready"):
            proc.wait(timeout=10)
            parent.close()
            raise AuditUnavailable(
                "the audit writer could not open the log", {"cause": str(hello.get("fatal"))}
            )
        parent.setblocking(False)
        self._proc, self._sock = proc, parent
        self._frames = FrameReader()
        self._out = bytearray()

    async def _attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Listen on this loop, restarting the writer first if it has died."""
        if self._loop is not None and self._loop is not loop and not self._loop.is_closed():
            raise AuditUnavailable("the audit writer is serving another event loop")
        if self._loop is not None and self._loop.is_closed():
            # Whoever waited on the closed loop is gone; their replies are dropped on arrival.
            self._waiting = {k: [] for k in self._waiting}
            self._gathering = []
        self._detach()
        if self._sock is None:
            await asyncio.to_thread(self._restart)
        if self._stopped or self._sock is None:
            raise AuditUnavailable("the audit writer is stopped; nothing was recorded")
        self._loop = loop
        loop.add_reader(self._sock.fileno(), self._on_readable)
        if self._out:
            loop.add_writer(self._sock.fileno(), self._drain)

    def _restart(self) -> None:
        with self._spawn_lock:
            if self._sock is None and not self._stopped:
                log.warning("starting a new audit writer")
                self._start()

    def _detach(self) -> None:
        loop, sock = self._loop, self._sock
        self._loop = None
        if loop is not None and sock is not None and not loop.is_closed():
            loop.remove_reader(sock.fileno())
            loop.remove_writer(sock.fileno())

    def _writer_gone(self, why: str) -> None:
        """The writer died or hung up: fail everyone waiting; the next record restarts it."""
        log.error("audit writer lost: %s", why)
        self._detach()
        self._fail_waiting("the audit writer stopped before confirming the commit")
        sock, proc = self._sock, self._proc
        self._sock = self._proc = None
        if sock is not None:
            sock.close()
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()
            proc.wait()

    def _hung(self, frame_id: int) -> None:
        if self._in_flight == frame_id:
            self._writer_gone(f"no commit confirmed in {self._commit_timeout_s:g} s")

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _fail_waiting(self, message: str) -> None:
        pending = [f for waiters in self._waiting.values() for f in waiters]
        pending += [f for _, f in self._gathering]
        self._waiting.clear()
        self._gathering = []
        self._in_flight = None
        self._cancel_deadline()
        for future in pending:
            if not future.done() and not future.get_loop().is_closed():
                future.set_exception(AuditUnavailable(message))

    # --- on the event loop ---

    def _flush(self) -> None:
        """Send what has gathered as one frame, unless a frame is still being committed."""
        if self._in_flight is not None and self._sock is not None:
            return  # the reply to the frame in flight sends these
        gathered, self._gathering = self._gathering, []
        if not gathered:
            return
        if self._sock is None:
            for _, future in gathered:
                if not future.done():
                    future.set_exception(AuditUnavailable("the audit writer is not running"))
            return
        self._next_id += 1
        self._in_flight = self._next_id
        self._waiting[self._next_id] = [future for _, future in gathered]
        frame = {
            "id": self._next_id,
            "ts": iso(self._clock.now()),
            "checkpoint_every": self._checkpoint_every(),
            "entries": [entry for entry, _ in gathered],
        }
        self._send(pack(frame))
        if self._loop is not None and self._in_flight is not None:
            self._deadline = self._loop.call_later(
                self._commit_timeout_s, self._hung, self._in_flight
            )

    def _send(self, data: bytes) -> None:
        sock = self._sock
        assert sock is not None and self._loop is not None
        if self._out:
            self._out += data
            return
        try:
            sent = sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._writer_gone(f"send failed: {exc.__class__.__name__}")
            return
        if sent < len(data):
            self._out = bytearray(data[sent:])
            self._loop.add_writer(sock.fileno(), self._drain)

    def _drain(self) -> None:
        sock = self._sock
        if sock is None or self._loop is None:
            return
        try:
            sent = sock.send(self._out)
        except BlockingIOError:
            return
        except OSError as exc:
            self._writer_gone(f"send failed: {exc.__class__.__name__}")
            return
        del self._out[:sent]
        if not self._out:
            self._loop.remove_writer(sock.fileno())

    def _on_readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            data = sock.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError as exc:
            self._writer_gone(f"receive failed: {exc.__class__.__name__}")
            return
        if not data:
            self._writer_gone("the writer process exited")
            return
        try:
            replies = self._frames.feed(data)
        except ValueError as exc:
            self._writer_gone(str(exc))
            return
        for reply in replies:
            self._resolve(reply)
            if reply.get("id") == self._in_flight:
                self._in_flight = None
                self._cancel_deadline()
        if self._in_flight is None and self._gathering:
            self._flush()

    def _resolve(self, reply: Mapping[str, Any]) -> None:
        waiters = self._waiting.pop(int(reply["id"]), [])
        error = reply.get("error")
        if error is not None:
            failure = write_failed(str(error))
            for future in waiters:
                if not future.done():
                    future.set_exception(failure)
            return
        ts = str(reply["ts"])
        for future, seq, digest in zip(waiters, reply["seq"], reply["hash"], strict=True):
            if not future.done():  # the caller timed out or went away
                future.set_result(Appended(int(seq), str(digest), ts))
