"""A target's stable address on the local backend: an HTTP reverse proxy in front of blue/green.

Run as its own process (`python -m controlplane.adapters.workload.local_front --state-dir DIR
--target svc/env --port P`), so it outlives restarts of the plane, the way a Kubernetes Service
stays put while pods change. It forwards each request to the target's active instance as the
state file records it, re-reading that file when the backend asks (`POST /-/front/reload`, the
switch) and answering with the port it now serves, so the backend stops the old instance only
after the front has moved on. Forwarding is per request (keep-alive connections to the front
survive a switch); bodies are buffered, so a request that met a switched-out instance can be
sent again to the new one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpcore
import httpx

from controlplane.adapters.workload.local_state import StateFile

CONTROL = "/-/front"
HOP_BY_HOP = frozenset(
    {
        b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
        b"trailer", b"transfer-encoding", b"upgrade", b"content-length",
    }
)  # fmt: skip
CONNECT_TIMEOUT_S, READ_TIMEOUT_S = 2.0, 60.0
KEEPALIVE_S = 4.0  # under uvicorn's 5 s, so an instance never closes a connection as we reuse it
TIMEOUTS = {"connect": CONNECT_TIMEOUT_S, "read": READ_TIMEOUT_S, "write": 10.0, "pool": 60.0}

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Reply = tuple[int, list[tuple[bytes, bytes]], bytes]


class Front:
    """The ASGI app: forward to the active instance, or answer 503 at once when there is none."""

    def __init__(self, state: StateFile, key: str) -> None:
        self.state = state
        self.key = key
        self.port: int | None = None
        self.release: str | None = None
        self._pool: httpcore.AsyncConnectionPool | None = None
        self.reload()

    def reload(self) -> dict[str, Any]:
        """Serve what the state file says is active now; return what that is."""
        ts = self.state.load().get(self.key)
        active = ts.active if ts is not None else None
        self.port = active.port if active is not None else None
        self.release = active.release["ref"] if active is not None else None
        return self.info()

    def info(self) -> dict[str, Any]:
        """Which target this front is, which process it is, and what it serves."""
        return {"target": self.key, "pid": os.getpid(), "port": self.port, "release": self.release}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            body = await _body(receive)
            if scope["path"].startswith(CONTROL):
                reply = self._control(scope)
            else:
                reply = await self._forward(scope, body)
            await _respond(send, reply)

    def _control(self, scope: Scope) -> Reply:
        """GET /-/front: what it serves; POST /-/front/reload: re-read the state file first."""
        if scope["path"] == f"{CONTROL}/reload" and scope["method"] == "POST":
            return _json(200, self.reload())
        if scope["path"] == CONTROL:
            return _json(200, self.info())
        return _json(404, {"error": {"code": "not_found", "message": "unknown front endpoint"}})

    async def _forward(self, scope: Scope, body: bytes) -> Reply:
        """Send to the active instance; once more if it was switched out under this request."""
        for attempt in (1, 2):
            port = self.port
            if port is None:
                return _unavailable(f"no instance of {self.key} is serving behind this address")
            try:
                return await self._send(port, scope, body)
            except httpcore.TimeoutException:
                return _error(504, f"{self.key} did not answer within {READ_TIMEOUT_S:g}s")
            except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
                # A switched-out instance is draining: it finishes what it started and refuses
                # the rest, so a request it refused never ran and is safe to send again.
                if attempt == 1 and self.reload()["port"] != port:
                    continue
                return _unavailable(
                    f"{self.release} of {self.key} on port {port} does not answer "
                    f"({exc.__class__.__name__})"
                )
        raise AssertionError("unreachable")

    async def _send(self, port: int, scope: Scope, body: bytes) -> Reply:
        path = scope.get("raw_path") or scope["path"].encode()
        query = b"?" + scope["query_string"] if scope.get("query_string") else b""
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP]
        if body:
            headers.append((b"content-length", str(len(body)).encode()))
        url = httpcore.URL(scheme=b"http", host=b"127.0.0.1", port=port, target=path + query)
        response = await self.pool.request(
            scope["method"].encode(), url, headers=headers, content=body,
            extensions={"timeout": TIMEOUTS},
        )  # fmt: skip
        out = [(k, v) for k, v in response.headers if k.lower() not in HOP_BY_HOP]
        return response.status, out, response.content

    @property
    def pool(self) -> httpcore.AsyncConnectionPool:
        """One keep-alive pool per process (httpcore: bytes as they are, no decoding), made in
        the event loop that uses it."""
        if self._pool is None:
            self._pool = httpcore.AsyncConnectionPool(
                max_connections=512, keepalive_expiry=KEEPALIVE_S
            )
        return self._pool

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._pool is not None:
                    await self._pool.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Send, reply: Reply) -> None:
    status, headers, body = reply
    length = (b"content-length", str(len(body)).encode())
    await send({"type": "http.response.start", "status": status, "headers": [*headers, length]})
    await send({"type": "http.response.body", "body": body})


def _json(status: int, body: dict[str, Any]) -> Reply:
    return status, [(b"content-type", b"application/json")], json.dumps(body).encode()


def _error(status: int, message: str) -> Reply:
    return _json(status, {"error": {"code": "unavailable", "message": message}})


def _unavailable(message: str) -> Reply:
    return _error(503, message)


def main(argv: list[str] | None = None) -> None:
    """Serve one target's address on loopback until SIGTERM (then drain, like uvicorn does)."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m controlplane.adapters.workload.local_front")
    parser.add_argument("--state-dir", type=Path, required=True, help="the backend's workloads dir")
    parser.add_argument("--target", required=True, help="service/environment")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    front = Front(StateFile(args.state_dir), args.target)
    uvicorn.run(
        front, host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
        server_header=False, date_header=False, lifespan="on",
    )  # fmt: skip


if __name__ == "__main__":
    main()


def command(directory: Path, key: str, port: int) -> list[str]:
    """The argv that runs a target's front over the backend's workloads directory."""
    return [
        sys.executable, "-m", "controlplane.adapters.workload.local_front",
        "--state-dir", str(directory), "--target", key, "--port", str(port),
    ]  # fmt: skip


def serving(port: int, *, reload: bool = False, timeout_s: float = 5.0) -> dict[str, Any] | None:
    """What the front on `port` serves (re-reading the state first when `reload`), or None."""
    url = f"http://127.0.0.1:{port}{CONTROL}"
    try:
        if reload:
            response = httpx.post(f"{url}/reload", timeout=timeout_s)
        else:
            response = httpx.get(url, timeout=timeout_s)
        info: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError):
        return None
    return info if response.status_code == 200 and "target" in info else None


def wait_serving(port: int, alive: Callable[[], bool], timeout_s: float) -> bool:
    """Wait until a front answers on `port`; False when it died or the time ran out."""
    deadline = time.monotonic() + timeout_s
    while serving(port, timeout_s=1.0) is None:
        if not alive() or time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
