"""Lead time's commit times: the compare range from source control when configured, cached, else
the commit time in the request; source control down means the request's times, said so.

A compare range between two shas never changes, so its answer is kept (LRU, per plane): a
dashboard refresh asks GitHub only about deployments it has not seen, and at most
`lookups_per_call` of them, so one refresh never waits on hundreds of calls.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from controlplane.adapters.source_control import SourceControl
from controlplane.dora.metrics import Sample, day_of
from controlplane.dora.models import LeadTimeSource
from controlplane.errors import AdapterUnavailable, ControlPlaneError


class Shipped(NamedTuple):
    """A succeeded production deployment as lead time sees it (times in epoch seconds)."""

    service: str
    requester: str
    finished: float
    commit_sha: str | None
    commit_time: float | None
    base_sha: str | None  # the commit of the service's previous production deployment


class CommitTimes:
    """Commit times of compare ranges from one repository, cached and looked up on a budget."""

    def __init__(
        self,
        source: SourceControl,
        repo: str,
        *,
        max_entries: int = 20_000,
        lookups_per_call: int = 100,
    ) -> None:
        self.source = source
        self.repo = repo
        self.max_entries = max_entries
        self.lookups_per_call = lookups_per_call
        self._cache: OrderedDict[tuple[str, str], tuple[float, ...]] = OrderedDict()
        self._lock = threading.Lock()
        self.calls = 0  # source-control calls made (tests and the bench read it)

    def cached(self, base: str, head: str) -> tuple[float, ...] | None:
        """The committed times of base...head if already known."""
        with self._lock:
            found = self._cache.get((base, head))
            if found is not None:
                self._cache.move_to_end((base, head))
            return found

    def fetch(self, base: str, head: str) -> tuple[float, ...]:
        """Ask source control for base...head and keep the answer (errors are not kept)."""
        self.calls += 1
        commits = self.source.commits_between(self.repo, base, head)
        times = tuple(c.committed_at.timestamp() for c in commits)
        with self._lock:
            self._cache[(base, head)] = times
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        return times


@dataclass
class _Tally:
    samples: list[Sample] = field(default_factory=list)
    from_source: int = 0
    from_request: int = 0
    unknown: int = 0
    not_looked_up: int = 0
    failed_ranges: int = 0
    down: str | None = None


def lead_samples(
    shipped: Sequence[Shipped], commits: CommitTimes | None
) -> tuple[list[Sample], LeadTimeSource]:
    """One sample per change (None: a deployment with no known commit time) and their source."""
    tally = _Tally()
    budget = commits.lookups_per_call if commits else 0
    for dep in shipped:
        times: tuple[float, ...] | None = None
        if (
            commits is not None
            and dep.commit_sha
            and dep.base_sha
            and dep.base_sha != dep.commit_sha
        ):
            times = commits.cached(dep.base_sha, dep.commit_sha)
            if times is None and tally.down is None and budget > 0:
                budget -= 1
                try:
                    times = commits.fetch(dep.base_sha, dep.commit_sha)
                except AdapterUnavailable as exc:
                    tally.down = exc.message
                except ControlPlaneError:
                    tally.failed_ranges += 1
            elif times is None and tally.down is None:
                tally.not_looked_up += 1
        _count(tally, dep, times)
    return tally.samples, _source(tally, commits)


def _count(tally: _Tally, dep: Shipped, times: tuple[float, ...] | None) -> None:
    day = day_of(dep.finished)
    if times:
        tally.from_source += 1
        tally.samples += [Sample(dep.service, dep.requester, day, dep.finished - t) for t in times]
        return
    if dep.commit_time is not None:
        tally.from_request += 1
        tally.samples.append(
            Sample(dep.service, dep.requester, day, dep.finished - dep.commit_time)
        )
        return
    tally.unknown += 1
    tally.samples.append(Sample(dep.service, dep.requester, day, None))


def _source(tally: _Tally, commits: CommitTimes | None) -> LeadTimeSource:
    notes: list[str] = []
    if commits is None:
        notes.append("no source control configured: lead time uses the commit time in each request")
    if tally.down is not None:
        notes.append(
            f"source control unavailable ({tally.down}): the other deployments use the commit "
            "time in their request"
        )
    if tally.failed_ranges:
        notes.append(f"{tally.failed_ranges} compare range(s) refused by source control")
    if tally.not_looked_up:
        notes.append(
            f"{tally.not_looked_up} range(s) not looked up yet (at most "
            f"{commits.lookups_per_call if commits else 0} per call; the next refresh goes on)"
        )
    if tally.unknown:
        notes.append(f"{tally.unknown} deployment(s) have no known commit time (not in the median)")
    return LeadTimeSource(
        source="source_control" if commits is not None and tally.down is None else "request",
        adapter=commits.source.name if commits else None,
        from_source_control=tally.from_source,
        from_request=tally.from_request,
        unknown=tally.unknown,
        note="; ".join(notes),
    )
