"""In-memory fakes for the adapters, for tests and the embedded default."""

from __future__ import annotations

from controlplane.adapters.base import QueryResult
from controlplane.errors import AdapterUnavailable


class FakeMetrics:
    """Answers PromQL from a dict; `down=True` simulates an unreachable server."""

    name = "fake-prometheus"

    def __init__(self, answers: dict[str, bool] | None = None, *, down: bool = False) -> None:
        self.answers = dict(answers or {})
        self.down = down
        self.queries: list[str] = []

    def query(self, promql: str) -> QueryResult:
        """Return the configured answer (default: nothing matched)."""
        self.queries.append(promql)
        if self.down:
            raise AdapterUnavailable("fake prometheus is down")
        matched = self.answers.get(promql, False)
        return QueryResult(matched, "vector", [{"value": [0, "1"]}] if matched else [])
