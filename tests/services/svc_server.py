"""Real uvicorn servers on loopback for the service tests, and polling without timing asserts."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI

READY_TIMEOUT_S = 30.0


def wait_until(check: Callable[[], bool], timeout: float = READY_TIMEOUT_S) -> bool:
    """Poll `check` until it is true or the timeout passes (a liveness bound, not an assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@contextmanager
def running(app: FastAPI) -> Iterator[httpx.Client]:
    """Serve `app` with a real uvicorn server on a free loopback port; yield a client for it."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert wait_until(lambda: server.started), "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def ready(client: httpx.Client) -> bool:
    """True once the server reports a verified model."""
    return client.get("/ready").status_code == 200


def free_port() -> int:
    """A loopback port that was free a moment ago (for subprocess servers)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
