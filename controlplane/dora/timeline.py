"""When failures were restored and which deployments were unplanned fixes, over time lines of
one window. Pure, like metrics.py: the service hands over epoch seconds."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from controlplane.dora.metrics import Sample, day_of


class Finished(NamedTuple):
    """A succeeded production deployment or rollback, as the fix and restore searches see it."""

    service: str
    requester: str
    at: float  # epoch seconds


def unplanned_fixes(
    deploys: Iterable[Finished], open_incidents: Mapping[str, Sequence[tuple[float, float | None]]]
) -> list[Sample]:
    """Deployments that finished while an incident of their service was open (its fix)."""
    spans = {s: _merged(v) for s, v in open_incidents.items()}
    out: list[Sample] = []
    for dep in deploys:
        starts, ends = spans.get(dep.service, ([], []))
        if not starts:
            continue
        i = bisect.bisect_right(starts, dep.at) - 1
        if i >= 0 and dep.at <= ends[i]:
            out.append(Sample(dep.service, dep.requester, day_of(dep.at), None))
    return out


def _merged(spans: Sequence[tuple[float, float | None]]) -> tuple[list[float], list[float]]:
    """Open intervals merged and sorted (an open incident lasts forever)."""
    starts: list[float] = []
    ends: list[float] = []
    for start, end in sorted((s, float("inf") if e is None else e) for s, e in spans):
        if starts and start <= ends[-1]:
            ends[-1] = max(ends[-1], end)
        else:
            starts.append(start)
            ends.append(end)
    return starts, ends


def first_after(times: Sequence[float], start: float) -> float | None:
    """The first of sorted `times` after `start` (a failed deployment never restores itself)."""
    i = bisect.bisect_right(times, start)
    return times[i] if i < len(times) else None


def restore_time(start: float, *candidates: float | None) -> float | None:
    """Seconds from the failure to the first restore among the candidates (None: none yet)."""
    after = [c for c in candidates if c is not None and c >= start]
    return min(after) - start if after else None
