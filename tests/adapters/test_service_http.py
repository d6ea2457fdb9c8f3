"""HTTP to the ML services, against a real local server: JSON comes back decoded, anything else
is our own AdapterError (status and body) or AdapterUnavailable (no answer in time)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from controlplane.adapters.service_http import HttpxServiceHttp
from controlplane.errors import AdapterError, AdapterUnavailable

MODEL_INFO = {"service": "bankchurn", "model_version": "3f2a9c1b7d4e"}
RELEASE = threading.Event()  # lets a slow answer end when the test is done


class Service(BaseHTTPRequestHandler):
    """A stand-in ML service: its /model_info, and the ways a service answers badly."""

    def do_GET(self) -> None:
        routes = {
            "/model_info": (200, "application/json", json.dumps(MODEL_INFO)),
            "/drift": (200, "application/json", json.dumps([{"feature": "age", "psi": 0.31}])),
            "/missing": (404, "text/plain", "no route /missing"),
            "/boom": (500, "text/plain", "Traceback " + "x" * 2000),
            "/page": (200, "text/html", "<html>login</html>"),
        }
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/model_info")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/slow":
            RELEASE.wait(5)
        status, kind, body = routes.get(self.path, routes["/model_info"])
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Service)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    RELEASE.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def http() -> Iterator[HttpxServiceHttp]:
    client = HttpxServiceHttp()
    yield client
    client.close()


def test_json_comes_back_decoded(http: HttpxServiceHttp, base: str) -> None:
    assert http.get_json(f"{base}/model_info") == MODEL_INFO
    assert http.get_json(f"{base}/drift")[0]["psi"] == pytest.approx(0.31)


@pytest.mark.parametrize(("path", "status"), [("/missing", 404), ("/boom", 500), ("/moved", 302)])
def test_an_answer_that_is_not_2xx_is_an_adapter_error_with_status_and_body(
    http: HttpxServiceHttp, base: str, path: str, status: int
) -> None:
    with pytest.raises(AdapterError) as err:
        http.get_json(f"{base}{path}")
    assert err.value.message == f"{base}{path} answered {status}"
    assert err.value.details["status"] == status
    assert len(err.value.details["body"]) <= 500
    if path == "/missing":
        assert err.value.details["body"] == "no route /missing"


def test_a_2xx_that_is_not_json_is_an_adapter_error(http: HttpxServiceHttp, base: str) -> None:
    with pytest.raises(AdapterError, match="not JSON") as err:
        http.get_json(f"{base}/page")
    assert err.value.details == {"status": 200, "body": "<html>login</html>"}


def test_a_service_that_is_not_there_is_unavailable(http: HttpxServiceHttp) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens there
    with pytest.raises(AdapterUnavailable, match=f"127.0.0.1:{port}/model_info did not answer"):
        http.get_json(f"http://127.0.0.1:{port}/model_info")


def test_a_slow_service_is_unavailable_after_the_call_timeout(base: str) -> None:
    client = HttpxServiceHttp(timeout_s=30)
    started = time.monotonic()
    with pytest.raises(AdapterUnavailable, match="Timeout"):
        client.get_json(f"{base}/slow", timeout_s=0.2)
    assert time.monotonic() - started < 3
    client.close()


def test_the_client_timeout_applies_when_a_call_names_none(base: str) -> None:
    client = HttpxServiceHttp(timeout_s=0.2)
    started = time.monotonic()
    with pytest.raises(AdapterUnavailable, match="Timeout"):
        client.get_json(f"{base}/slow")
    assert time.monotonic() - started < 3
    client.close()
