"""Prometheus HTTP API adapter (instant queries) with a timeout and one error type."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from controlplane.adapters.base import QueryResult
from controlplane.errors import AdapterUnavailable


@contextmanager
def _translated(url: str) -> Iterator[None]:
    """Turn every transport or protocol failure into AdapterUnavailable."""
    try:
        yield
    except AdapterUnavailable:
        raise
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise AdapterUnavailable(
            f"prometheus at {url} did not answer: {exc.__class__.__name__}", {"url": url}
        ) from exc


class PrometheusSource:
    """Evaluates PromQL on a real Prometheus server."""

    name = "prometheus"

    def __init__(self, client: httpx.Client, base_url: str) -> None:
        self._client = client
        self._url = base_url.rstrip("/")

    @classmethod
    def connect(
        cls, base_url: str, *, timeout_s: float, token: str | None = None
    ) -> PrometheusSource:
        """Build the adapter with its own HTTP client."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return cls(httpx.Client(timeout=timeout_s, headers=headers), base_url)

    def query(self, promql: str) -> QueryResult:
        """Run an instant query: a non-empty vector or a scalar > 0 counts as matched."""
        with _translated(self._url):
            response = self._client.get(f"{self._url}/api/v1/query", params={"query": promql})
            body: dict[str, Any] = response.json()
            if response.status_code != 200 or body.get("status") != "success":
                raise AdapterUnavailable(
                    f"prometheus refused the query: {body.get('error', response.status_code)}",
                    {"query": promql},
                )
            data = body["data"]
            kind = data["resultType"]
            if kind == "vector":
                return QueryResult(bool(data["result"]), kind, list(data["result"]))
            if kind == "scalar":
                return QueryResult(float(data["result"][1]) > 0, kind, [])
            raise AdapterUnavailable(
                f"unexpected prometheus result type {kind!r}", {"query": promql}
            )
