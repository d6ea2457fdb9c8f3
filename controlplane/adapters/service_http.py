"""JSON over HTTP to the ML services' own endpoints (/drift, /model_info), with a timeout."""

from __future__ import annotations

from typing import Any

import httpx

from controlplane.errors import AdapterError, AdapterUnavailable


class HttpxServiceHttp:
    """The real client: one pooled httpx client, loopback by default."""

    def __init__(self, *, timeout_s: float = 10.0) -> None:
        self._client = httpx.Client(timeout=timeout_s)

    def get_json(self, url: str, *, timeout_s: float | None = None) -> Any:
        """GET and decode JSON; a non-2xx answer raises AdapterError with its status and body."""
        try:
            response = self._client.get(
                url, timeout=httpx.USE_CLIENT_DEFAULT if timeout_s is None else timeout_s
            )
        except httpx.HTTPError as exc:
            raise AdapterUnavailable(f"{url} did not answer: {exc.__class__.__name__}") from None
        status = response.status_code
        details = {"status": status, "body": response.text[:500]}
        if not response.is_success:  # a redirect too: it is not the JSON that was asked for
            raise AdapterError(f"{url} answered {status}", details)
        try:
            return response.json()
        except ValueError:
            raise AdapterError(f"{url} answered {status}, not JSON", details) from None

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()
