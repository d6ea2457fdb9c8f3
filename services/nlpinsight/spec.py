"""NLPInsight's place in the shared runtime: text drift is length plus vocabulary shares."""

from collections.abc import Mapping, Sequence
from typing import Any

from services.common.serving import ServiceSpec


def drift_columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Logged texts as the two drift features the baseline holds."""
    texts = [r["text"] for r in rows]
    return {"text_length": [len(t) for t in texts], "vocabulary": texts}


SPEC = ServiceSpec(name="nlpinsight", class_label="sentiment", drift_columns=drift_columns)
