"""SourceControl on GitHub's REST API through PyGithub; every failure leaves as our own error.

PyGithub's defaults are tuned for scripts, not for a plane that must answer: its retry sleeps
through rate limits (up to an hour) and retries 5xx ten times. Here only connection failures
(the request never reached GitHub, so even a POST is safe to resend) are retried, twice;
a rate limit comes back at once as AdapterUnavailable carrying the time to retry at.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import github
import requests
from github.Commit import Commit as GhCommit
from github.GithubException import BadAttributeException, GithubException
from github.Repository import Repository
from pydantic import SecretStr
from urllib3.util import Retry

from controlplane.adapters.source_control import (
    Commit,
    IssueRef,
    body_with_marker,
    check_repo,
    first_line,
    has_marker,
    issue_marker,
    rate_limited,
    unknown_ref,
    unknown_repo,
)
from controlplane.clock import Clock, SystemClock
from controlplane.errors import AdapterError, AdapterUnavailable, ControlPlaneError, NotFound

DEFAULT_API_URL = "https://api.github.com"
PAGE_SIZE = 100  # GitHub's maximum per_page for compare and issue listings
ISSUE_SCAN_LIMIT = 1000  # newest open issues searched for a key's marker before creating
# A secondary rate limit without Retry-After: GitHub's docs say wait at least a minute.
_DEFAULT_BACKOFF = timedelta(seconds=60)


def _retry() -> Retry:
    """Resend only when the connection failed; never sleep on Retry-After or 403/429/5xx."""
    return Retry(
        total=2,
        connect=2,
        read=False,  # a read timeout surfaces as itself (requests.ReadTimeout), not resent
        status=0,
        other=0,
        backoff_factor=0.2,
        raise_on_status=False,
        respect_retry_after_header=False,
    )


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _commit(item: GhCommit) -> Commit:
    # Only attributes present in list payloads: anything missing (or `raw_data`) would make
    # PyGithub fetch each commit on its own.
    git = item.commit
    return Commit(
        sha=item.sha,
        authored_at=_utc(git.author.date),
        committed_at=_utc(git.committer.date),
        author=git.author.name,
        message=first_line(git.message or ""),
    )


class GithubSourceControl:
    """GitHub (or GitHub Enterprise) behind the SourceControl contract."""

    name = "github"

    def __init__(
        self, client: github.Github, *, base_url: str = DEFAULT_API_URL, clock: Clock | None = None
    ) -> None:
        self._client = client
        self._url = base_url.rstrip("/")
        self._clock = clock or SystemClock()

    def __repr__(self) -> str:
        return f"GithubSourceControl(base_url={self._url!r})"

    @classmethod
    def connect(
        cls,
        token: SecretStr | str,
        base_url: str = DEFAULT_API_URL,
        timeout_s: float = 10,
        *,
        seconds_between_requests: float | None = 0.25,
        seconds_between_writes: float | None = 1.0,
        clock: Clock | None = None,
    ) -> GithubSourceControl:
        """Build the adapter with its own PyGithub client (token auth, small retry, lazy)."""
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        if not secret:
            raise AdapterError("no github token configured (CONTROLPLANE_GITHUB_TOKEN)")
        client = github.Github(
            auth=github.Auth.Token(secret),
            base_url=base_url.rstrip("/"),
            timeout=max(1, math.ceil(timeout_s)),  # PyGithub asserts an int
            retry=_retry(),
            per_page=PAGE_SIZE,
            user_agent="controlplane",
            lazy=True,  # no GET /repos/{repo} before every call
            seconds_between_requests=seconds_between_requests,
            seconds_between_writes=seconds_between_writes,
        )
        return cls(client, base_url=base_url, clock=clock)

    def _repo(self, repo: str) -> Repository:
        return self._client.get_repo(check_repo(repo))

    @contextmanager
    def _translated(self, repo: str, missing: Callable[[], ControlPlaneError]) -> Iterator[None]:
        """Turn PyGithub and transport failures into the plane's errors (never the token)."""
        try:
            yield
        except ControlPlaneError:
            raise
        except GithubException as exc:
            raise self._from_status(exc, repo, missing) from exc
        except requests.RequestException as exc:
            raise AdapterUnavailable(
                f"github at {self._url} did not answer: {exc.__class__.__name__}",
                {"url": self._url, "repo": repo},
            ) from exc
        except BadAttributeException as exc:
            raise AdapterError(
                f"github sent an unexpected payload for {repo}", {"repo": repo}
            ) from exc

    def _from_status(
        self, exc: GithubException, repo: str, missing: Callable[[], ControlPlaneError]
    ) -> ControlPlaneError:
        headers = {str(k).lower(): str(v) for k, v in (exc.headers or {}).items()}
        data: Any = exc.data
        message = str(data.get("message", "")) if isinstance(data, dict) else ""
        status = exc.status
        if status in (403, 429) and (
            headers.get("x-ratelimit-remaining") == "0"
            or "retry-after" in headers
            or "rate limit" in message.lower()
        ):
            now = self._clock.now()
            return rate_limited(self._retry_at(headers, now), now)
        if status == 404:
            return missing()
        details = {"repo": repo, "status": status, "github_message": message}
        if status == 401:
            return AdapterError("github refused the token (401 Bad credentials)", details)
        if status >= 500:
            return AdapterUnavailable(f"github answered {status}: {message}", details)
        return AdapterError(f"github refused the call ({status}: {message})", details)

    @staticmethod
    def _retry_at(headers: dict[str, str], now: datetime) -> datetime:
        after = headers.get("retry-after")
        if after is not None:
            if after.strip().isdigit():
                return now + timedelta(seconds=int(after))
            try:
                return parsedate_to_datetime(after).astimezone(UTC)
            except (TypeError, ValueError):
                pass
        reset = headers.get("x-ratelimit-reset", "")
        if headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
            return datetime.fromtimestamp(int(reset), UTC)
        return now + _DEFAULT_BACKOFF

    def _missing(self, repo: str, *refs: str) -> NotFound:
        """Say which of repository, base or head GitHub does not know (one probe each)."""
        try:
            self._repo(repo).complete()
        except GithubException as exc:
            if exc.status == 404:
                return unknown_repo(repo)
        except (requests.RequestException, BadAttributeException):
            pass
        try:
            for ref in refs:
                if self.commit_time(repo, ref) is None:
                    return unknown_ref(repo, ref)
        except ControlPlaneError:
            pass
        return NotFound(
            f"github found no {'...'.join(refs)} in {repo}", {"repo": repo, "ref": "...".join(refs)}
        )

    def commits_between(self, repo: str, base: str, head: str) -> list[Commit]:
        """The compare range base...head, every page of it (GitHub caps one answer at 250)."""
        with self._translated(repo, lambda: self._missing(repo, base, head)):
            # PyGithub 2.x sends page=1 (and per_page) from the first request: only a paged
            # compare is chronological and follows `Link: rel="next"` to the end.
            listing = self._repo(repo).compare(base, head).commits
            commits = [_commit(item) for item in listing]
            total = listing.totalCount  # `total_commits`, read from the pages already fetched
        if total is not None and len(commits) < total:
            raise AdapterError(
                f"github listed {len(commits)} of the {total} commits in {repo} {base}...{head}",
                {"repo": repo, "ref": f"{base}...{head}", "listed": len(commits), "total": total},
            )
        return commits

    def commit_time(self, repo: str, sha: str) -> datetime | None:
        """The committer time of `sha`; None when GitHub has no such commit (422) or no commits."""
        with self._translated(repo, lambda: unknown_repo(repo)):
            try:
                return _utc(self._repo(repo).get_commit(sha).commit.committer.date)
            except GithubException as exc:
                if exc.status in (409, 422):  # 409: empty repository; 422: no commit for SHA
                    return None
                raise

    def open_issue(
        self, repo: str, title: str, body: str, labels: Sequence[str], *, idempotency_key: str
    ) -> IssueRef:
        """Return the open issue that carries the key's marker, or create it."""
        marker = issue_marker(idempotency_key)
        with self._translated(repo, lambda: unknown_repo(repo)):
            target = self._repo(repo)
            # The issues listing, not the search API: search is eventually consistent, so a
            # retry seconds after the first attempt could miss the issue and open a second.
            newest = target.get_issues(state="open", sort="created", direction="desc")
            for seen, issue in enumerate(newest):
                if seen >= ISSUE_SCAN_LIMIT:
                    break
                if has_marker(issue.body, marker):
                    return IssueRef(issue.number, issue.html_url)
            made = target.create_issue(
                title=title, body=body_with_marker(body, idempotency_key), labels=list(labels)
            )
            return IssueRef(made.number, made.html_url)
