"""The audit writer process: group-commits decision records away from the request event loop.

The plane starts it with one end of a socket pair (`python -m controlplane.audit.commit.writer FD`).
Chaining, SQL inserts and fsync then run on another core under another interpreter lock, so
request handling never waits for them (in a thread they took turns on one GIL).

Protocol, both ways: frames of a 4-byte big-endian length and an orjson body.
- plane -> writer, first frame: {"database_url", "signing_key"}
- writer -> plane: {"ready": true} once connected, or {"fatal": "..."} and exit
- plane -> writer: {"id": n, "ts": iso, "checkpoint_every": k, "entries": [entry, ...]}
- writer -> plane: {"id": n, "seq": [..], "hash": [..], "ts": iso} once committed, or
  {"id": n, "error": "cause"} when the batch could not be written (nothing of it was kept).
Every frame that arrived before a commit goes into that one transaction. End of input: finish
what was received, then exit.
"""

from __future__ import annotations

import logging
import signal
import socket
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger("controlplane.audit.commit.writer")

_HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024


def pack(obj: Any) -> bytes:
    """One frame: length, then the orjson body."""
    body = orjson.dumps(obj)
    return _HEADER.pack(len(body)) + body


class FrameReader:
    """Splits a byte stream into frames; `feed` returns the frames completed so far."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        """Add received bytes and decode every complete frame."""
        self._buffer += data
        frames = []
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            if size > MAX_FRAME:
                raise ValueError(f"audit writer frame of {size} bytes is over the limit")
            end = _HEADER.size + size
            if len(self._buffer) < end:
                break
            frames.append(orjson.loads(bytes(self._buffer[_HEADER.size : end])))
            del self._buffer[:end]
        return frames


def _frames(sock: socket.socket) -> Iterator[list[Any]]:
    """Yield the frames of each receive: block for the first, then take what is already there."""
    reader = FrameReader()
    while True:
        sock.setblocking(True)
        data = sock.recv(1 << 20)
        if not data:
            return
        frames = reader.feed(data)
        sock.setblocking(False)
        while True:
            try:
                more = sock.recv(1 << 20)
            except BlockingIOError:
                break
            if not more:
                break
            frames += reader.feed(more)
        if frames:
            yield frames


def read_first_frame(sock: socket.socket) -> dict[str, Any]:
    """Block until one whole frame has arrived (the start-up handshake, both ways)."""
    reader = FrameReader()
    while True:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("the other end hung up before its first frame")
        frames = reader.feed(data)
        if frames:
            return dict(frames[0])


def serve(sock: socket.socket) -> None:
    """Connect as told by the first frame, then commit batches until the plane hangs up."""
    from controlplane import db
    from controlplane.audit.commit.sql import DirectAppender
    from controlplane.audit.signing import Signer

    try:
        config = read_first_frame(sock)
    except ConnectionError:
        raise SystemExit(0) from None
    try:
        engine = db.make_engine(str(config["database_url"]), pool_size=1)
        signer = Signer.load_or_create(Path(config["signing_key"]))
        appender = DirectAppender(engine)
        appender.check()
    except Exception as exc:  # report why, so the plane can refuse to start with a reason
        sock.sendall(pack({"fatal": f"{exc.__class__.__name__}: {exc}"}))
        raise SystemExit(1) from exc
    sock.sendall(pack({"ready": True}))
    for frames in _frames(sock):
        replies = _commit(appender, signer, frames)
        sock.setblocking(True)
        sock.sendall(b"".join(pack(r) for r in replies))
    appender.close()
    engine.dispose()


def _commit(appender: Any, signer: Any, frames: list[Any]) -> list[dict[str, Any]]:
    groups = [(frame["entries"], frame["ts"]) for frame in frames]
    every = int(frames[-1]["checkpoint_every"])
    try:
        results = appender.append(groups, signer=signer, checkpoint_every=every)
    except Exception as exc:  # driver errors: every batch in it fails, the plane answers 503
        log.error("audit group commit failed: %s", exc.__class__.__name__)
        return [{"id": frame["id"], "error": exc.__class__.__name__} for frame in frames]
    return [
        {
            "id": frame["id"],
            "seq": [a.seq for a in appended],
            "hash": [a.hash for a in appended],
            "ts": frame["ts"],
        }
        for frame, appended in zip(frames, results, strict=True)
    ]


def main(argv: list[str]) -> None:
    """Entry point: `python -m controlplane.audit.commit.writer FD`."""
    logging.basicConfig(level=logging.WARNING, format="audit-writer: %(message)s")
    # Ctrl-C and service stops reach the whole process group: the plane, not the writer, decides
    # when to stop (it hangs up after its last request; the writer drains and exits on that).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sock = socket.socket(fileno=int(argv[0]))
    try:
        serve(sock)
    finally:
        sock.close()


if __name__ == "__main__":
    main(sys.argv[1:])
