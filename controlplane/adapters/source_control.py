"""SourceControl: commits of a release range (DORA lead time) and idempotent incident issues.

The real adapter (GitHub, through PyGithub) lives in source_control_github.py; the in-memory
fake below keeps the same contract, errors included, for tests and the embedded default.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from controlplane.clock import Clock, SystemClock
from controlplane.errors import AdapterUnavailable, InvalidSpec, NotFound


@dataclass(frozen=True)
class Commit:
    """One commit of a compare range, times in UTC, message cut to its first line."""

    sha: str
    authored_at: datetime
    committed_at: datetime
    author: str  # the git author name (always there, unlike a GitHub login)
    message: str


@dataclass(frozen=True)
class IssueRef:
    """An issue the plane opened (or found already open for the same key)."""

    number: int
    url: str


class SourceControl(Protocol):
    """Where the services' code lives (GitHub, or a fake)."""

    name: str

    def commits_between(self, repo: str, base: str, head: str) -> list[Commit]:
        """The commits in `head` that are not in `base`, oldest first (every page of them).

        NotFound names the repository or ref that does not exist; AdapterUnavailable (with
        details.retry_at) when rate limited or unreachable."""
        ...

    def commit_time(self, repo: str, sha: str) -> datetime | None:
        """When `sha` was committed (UTC), or None when the repository has no such commit."""
        ...

    def open_issue(
        self, repo: str, title: str, body: str, labels: Sequence[str], *, idempotency_key: str
    ) -> IssueRef:
        """Open an issue once per key: an open issue carrying the key's marker is returned as is."""
        ...


_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+=-]{0,199}$")


def check_repo(repo: str) -> str:
    """Refuse anything but `owner/name`."""
    if not _REPO.match(repo):
        raise InvalidSpec(f"repository {repo!r} is not owner/name", {"repo": repo})
    return repo


def issue_marker(idempotency_key: str) -> str:
    """The hidden line that ties an issue body to its idempotency key."""
    if not _KEY.match(idempotency_key):
        raise InvalidSpec(
            "idempotency key must be 1-200 of letters, digits and ._:/@+=- (no spaces)",
            {"idempotency_key": idempotency_key},
        )
    return f"<!-- controlplane:{idempotency_key} -->"


def body_with_marker(body: str, idempotency_key: str) -> str:
    """The issue body as sent: the caller's text, then the marker on a line of its own."""
    return f"{body.rstrip()}\n\n{issue_marker(idempotency_key)}\n"


def has_marker(body: str | None, marker: str) -> bool:
    """Whether an issue body carries exactly this marker line."""
    return marker in (body or "").splitlines()


def first_line(message: str) -> str:
    """A commit message's subject."""
    return message.strip().split("\n", 1)[0].strip()


def unknown_repo(repo: str) -> NotFound:
    """The error for a repository that does not exist (or that the token cannot see)."""
    return NotFound(
        f"no repository {repo} (or the token cannot see it)", {"repo": repo, "ref": None}
    )


def unknown_ref(repo: str, ref: str) -> NotFound:
    """The error for a branch, tag or sha the repository does not have."""
    return NotFound(f"{ref!r} is not a branch, tag or commit of {repo}", {"repo": repo, "ref": ref})


def rate_limited(until: datetime, now: datetime) -> AdapterUnavailable:
    """The error for a rate-limited call, saying when a retry can succeed."""
    until = until.astimezone(UTC)
    wait = max(0, math.ceil((until - now).total_seconds()))
    return AdapterUnavailable(
        f"github rate limit reached; retry after {until:%Y-%m-%dT%H:%M:%SZ} (in {wait}s)",
        {"retry_at": until.isoformat(), "retry_after_s": wait},
    )


# --- the in-memory fake ------------------------------------------------------------------------


@dataclass
class FakeIssue:
    """An issue as the fake keeps it."""

    number: int
    title: str
    body: str
    labels: list[str]
    url: str
    state: str = "open"


@dataclass
class _FakeRepo:
    commits: list[Commit] = field(default_factory=list)  # a linear history, oldest first
    refs: dict[str, str] = field(default_factory=dict)
    issues: list[FakeIssue] = field(default_factory=list)


class FakeSourceControl:
    """Linear histories and issues in memory; `down` and `rate_limited_until` inject failures."""

    name = "fake-github"

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        self.repos: dict[str, _FakeRepo] = {}
        self.down = False
        self.rate_limited_until: datetime | None = None

    def add_repo(
        self, repo: str, commits: Sequence[Commit] = (), refs: Mapping[str, str] | None = None
    ) -> None:
        """Create a repository holding `commits` (oldest first) and named refs."""
        self.repos[check_repo(repo)] = _FakeRepo(list(commits), dict(refs or {}))

    def issues(self, repo: str) -> list[FakeIssue]:
        """Every issue of a repository, oldest first."""
        return self._repo(repo).issues

    def _repo(self, repo: str) -> _FakeRepo:
        check_repo(repo)
        if self.down:
            raise AdapterUnavailable("fake github is down", {"url": "fake"})
        now = self.clock.now()
        if self.rate_limited_until is not None and now < self.rate_limited_until:
            raise rate_limited(self.rate_limited_until, now)
        if repo not in self.repos:
            raise unknown_repo(repo)
        return self.repos[repo]

    def _index(self, state: _FakeRepo, ref: str) -> int | None:
        sha = state.refs.get(ref, ref)
        found = [i for i, c in enumerate(state.commits) if len(sha) >= 7 and c.sha.startswith(sha)]
        return found[0] if len(found) == 1 else None

    def commits_between(self, repo: str, base: str, head: str) -> list[Commit]:
        """The commits after `base` up to and including `head`."""
        state = self._repo(repo)
        start, end = self._index(state, base), self._index(state, head)
        if start is None:
            raise unknown_ref(repo, base)
        if end is None:
            raise unknown_ref(repo, head)
        return list(state.commits[start + 1 : end + 1])

    def commit_time(self, repo: str, sha: str) -> datetime | None:
        """The committer time of `sha`."""
        state = self._repo(repo)
        index = self._index(state, sha)
        return None if index is None else state.commits[index].committed_at

    def open_issue(
        self, repo: str, title: str, body: str, labels: Sequence[str], *, idempotency_key: str
    ) -> IssueRef:
        """Find the open issue with the key's marker, or open one."""
        marker = issue_marker(idempotency_key)
        state = self._repo(repo)
        for issue in reversed(state.issues):
            if issue.state == "open" and has_marker(issue.body, marker):
                return IssueRef(issue.number, issue.url)
        number = len(state.issues) + 1
        url = f"https://github.com/{repo}/issues/{number}"
        text = body_with_marker(body, idempotency_key)
        state.issues.append(FakeIssue(number, title, text, list(labels), url))
        return IssueRef(number, url)
