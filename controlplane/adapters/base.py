"""Protocols for every outside system the plane talks to; fakes live beside the real ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class QueryResult:
    """A PromQL answer reduced to what signals need: did anything match, and what."""

    matched: bool
    result_type: str
    samples: list[dict[str, Any]] = field(default_factory=list)


class MetricsSource(Protocol):
    """Something that answers PromQL instant queries (Prometheus, or a fake)."""

    name: str

    def query(self, promql: str) -> QueryResult:
        """Evaluate an instant query; raise AdapterUnavailable when the source cannot answer."""
        ...
