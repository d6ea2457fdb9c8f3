"""JSON over HTTP to the ML services' own endpoints (/drift, /model_info), with a timeout."""

from __future__ import annotations

from typing import Any

import httpx

from controlplane.errors import AdapterError, AdapterUnavailable


class HttpxServiceHttp:
    """The real client: one pooled httpx client, loopback by default."""

    def __init__(self, *, timeout_s: float = 10.0) -> None:
        self._client = httpx.Client(timeout=timeout_s)

    def get_json(self, url: str, *, timeout_s: float = 10.0) -> Any:
        """GET and decode JSON; a non-2xx answer raises AdapterError with its status and body."""
        try:
            response = self._client.get(url, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise AdapterUnavailable(f"{url} did not answer: {exc.__class__.__name__}") from None
        if response.status_code >= 400:
            raise AdapterError(
                f"{url} answered {response.status_code}",
                {"status": response.status_code, "body": response.text[:500]},
            )
        return response.json()

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()
