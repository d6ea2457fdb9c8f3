"""The client's connection to the plane: where it is, which token, and errors as classes.

Imports no FastAPI, database or domain service code, so an agent can depend on it alone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from controlplane.errors import (
    ControlPlaneError,
    InvalidRequest,
    Unauthenticated,
    Unavailable,
    all_error_classes,
)

DEFAULT_URL = "http://127.0.0.1:8700"
DEFAULT_TIMEOUT_S = 10.0
START_HINT = "is the plane running? start it with `opsctl up`"
TOKEN_ENV = "CONTROLPLANE_TOKEN"
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")  # visible ASCII: what a bearer header can carry
_WILDCARD_HOSTS = {"0.0.0.0", "::", ""}


def default_url(env: Mapping[str, str]) -> str:
    """CONTROLPLANE_URL, else the address `opsctl up` listens on with the same environment."""
    if env.get("CONTROLPLANE_URL"):
        return env["CONTROLPLANE_URL"].rstrip("/")
    host = env.get("CONTROLPLANE_HOST", "127.0.0.1")
    host = "127.0.0.1" if host in _WILDCARD_HOSTS else host
    port = env.get("CONTROLPLANE_PORT")
    if port is None and host == "127.0.0.1":
        return DEFAULT_URL
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port or 8700}"


def admin_token_path(env: Mapping[str, str]) -> Path:
    """Where the first `opsctl up` leaves the admin token for the local CLI."""
    return Path(env.get("CONTROLPLANE_STATE_DIR") or ".controlplane") / "admin.token"


def _timeout_from(env: Mapping[str, str], default: float) -> float:
    """CONTROLPLANE_TIMEOUT (seconds per HTTP request), else the default; never the outcome."""
    raw = env.get("CONTROLPLANE_TIMEOUT", "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:  # also NaN
        raise InvalidRequest(
            f"CONTROLPLANE_TIMEOUT={raw!r} is not a number of seconds above 0",
            {"field": "CONTROLPLANE_TIMEOUT", "reason": "expected seconds, e.g. 10 or 2.5"},
        )
    return value


def _read_token_file(path: Path) -> str | None:
    """The token in a file, or None when the file is missing or unreadable."""
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def token_from_env(env: Mapping[str, str]) -> tuple[str | None, str]:
    """CONTROLPLANE_TOKEN without surrounding whitespace, else the admin token file; and where.

    A set but empty CONTROLPLANE_TOKEN is an error, never a silent fall back to the admin token.
    """
    raw = env.get(TOKEN_ENV)
    if raw is None:
        path = admin_token_path(env)
        return _read_token_file(path), str(path)
    token = raw.strip()
    if not token:
        raise Unauthenticated(
            f"{TOKEN_ENV} is set but empty; set it to a token, or unset it to use "
            f"{admin_token_path(env)}",
            {"token": f"empty {TOKEN_ENV}"},
        )
    return token, TOKEN_ENV


def check_token(token: str, source: str) -> None:
    """Refuse a token no HTTP header can carry, naming where it came from but never the token."""
    if _TOKEN_CHARS.fullmatch(token):
        return
    bad = next(i for i, c in enumerate(token) if not _TOKEN_CHARS.fullmatch(c))
    kind = "whitespace" if token[bad].isspace() else "a character outside visible ASCII"
    raise Unauthenticated(
        f"the token from {source} holds {kind} at position {bad + 1}, so it cannot be sent; "
        "check for a stray newline, quote or paste error",
        {"token": f"from {source}"},
    )


def error_from_response(response: httpx.Response) -> ControlPlaneError:
    """Turn an error response back into the error class the plane raised."""
    try:
        body = response.json()
        error = body["error"]
        code, message = str(error["code"]), str(error["message"])
        details = error.get("details") or {}
    except (ValueError, KeyError, TypeError):
        code, message = "", response.text.strip()[:500] or response.reason_phrase
        details = {}
    cls = _error_class(code, response.status_code)
    return cls(message, details if isinstance(details, dict) else {"details": details})


_REMOTE_CLASSES: dict[tuple[str, int], type[ControlPlaneError]] = {}


def _error_class(code: str, status: int) -> type[ControlPlaneError]:
    """The class for a code; codes outside the tree get a subclass of the class for the status."""
    known = all_error_classes()
    if code in known:
        return known[code]
    by_status = {c.status: c for c in known.values() if c.__bases__[0] is ControlPlaneError}
    base = by_status.get(status, ControlPlaneError)
    if not code:
        return base
    key = (code, status)
    if key not in _REMOTE_CLASSES:
        name = "Remote_" + "".join(c if c.isalnum() else "_" for c in code)
        _REMOTE_CLASSES[key] = type(name, (base,), {"code": code, "status": status})
    return _REMOTE_CLASSES[key]


class Transport:
    """The connection: credentials, one request at a time, errors mapped back to their classes."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        *,
        token_source: str | None = None,
        token_hint: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.token_source = token_source
        self._token_hint = token_hint or f"set {TOKEN_ENV}"
        headers = {"User-Agent": "opsctl/0.1", "Accept": "application/json"}
        if token:
            check_token(token, token_source or "the caller")
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT_S
    ) -> Self:
        """Build from CONTROLPLANE_URL / CONTROLPLANE_TOKEN, else the local admin token file."""
        env = os.environ if env is None else env
        timeout = _timeout_from(env, timeout)
        token, source = token_from_env(env)
        hint = f"set {TOKEN_ENV}, or run `opsctl up` here once to create {source}"
        return cls(
            default_url(env),
            token,
            timeout,
            token_source=source if token else None,
            token_hint=None if token else hint,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    # -- transport -------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one request and decode the JSON answer, or raise the plane's error."""
        return self._send(method, path, **kwargs).json()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; the answer, or the plane's error raised as its class."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code >= 400:
            raise self._explain(error_from_response(response))
        return response

    def _unreachable(self, exc: httpx.TransportError) -> Unavailable:
        """Say plainly that the plane could not be reached, and how to start it."""
        if isinstance(exc, httpx.LocalProtocolError):  # its text quotes the offending header
            what = f"the request to {self.url} could not be sent: a header value is invalid"
            return Unavailable(what, {"url": self.url, "cause": type(exc).__name__})
        if isinstance(exc, httpx.TimeoutException):
            what = f"the control plane at {self.url} did not answer in time"
        else:
            what = f"cannot reach the control plane at {self.url}"
        return Unavailable(
            f"{what}; {START_HINT}", {"url": self.url, "cause": self._hide(repr(exc))}
        )

    def _hide(self, text: str) -> str:
        """Text with this client's token masked, so no error ever shows it."""
        return text.replace(self.token, "***") if self.token else text

    def _explain(self, error: ControlPlaneError) -> ControlPlaneError:
        """Add where credentials come from to a 401, since that is the usual fix."""
        if isinstance(error, Unauthenticated):
            where = (
                f"from {self.token_source}" if self.token_source else f"none: {self._token_hint}"
            )
            error.details.setdefault("token", where)
        return error
