"""SourceControl: one contract for the in-memory fake and for GitHub (PyGithub against a local
fake of GitHub's REST API), then what only the real adapter can get wrong: paging by `Link`,
rate-limit headers, retries, timeouts and the token."""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import time
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from controlplane.adapters.source_control import (
    Commit,
    FakeIssue,
    FakeSourceControl,
    SourceControl,
    issue_marker,
)
from controlplane.adapters.source_control_github import GithubSourceControl
from controlplane.clock import ManualClock
from controlplane.errors import (
    AdapterError,
    AdapterUnavailable,
    ControlPlaneError,
    InvalidSpec,
    NotFound,
    Unavailable,
)
from tests.adapters.fake_github import FakeGitHubApi, iso

TOKEN = "ghp_" + "S3cr3tT0k3nV4lue" * 2
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
REPO = "acme/bankchurn"


def history(count: int) -> list[Commit]:
    """A linear history, oldest first: one commit an hour, each committed 30 minutes later."""
    return [
        Commit(
            sha=hashlib.sha1(f"commit {i}".encode()).hexdigest(),
            authored_at=NOW - timedelta(hours=count - i),
            committed_at=NOW - timedelta(hours=count - i) + timedelta(minutes=30),
            author="Ada Lovelace",
            message=f"Change number {i}",
        )
        for i in range(count)
    ]


def dead_url() -> str:
    """An address where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def connect(base_url: str, token: str | SecretStr = TOKEN, **kw: Any) -> GithubSourceControl:
    options: dict[str, Any] = {"seconds_between_requests": None, "seconds_between_writes": None,
                               "clock": ManualClock(NOW), "timeout_s": 2} | kw  # fmt: skip
    return GithubSourceControl.connect(token, base_url, **options)


class FakeWorld:
    """The in-memory fake, with failures injected through its own knobs."""

    def __init__(self) -> None:
        self.fake = FakeSourceControl(clock=ManualClock(NOW))
        self.adapter: SourceControl = self.fake

    def seed(self, repo: str, commits: list[Commit], refs: dict[str, str]) -> None:
        self.fake.add_repo(repo, commits, refs)

    def add_issue(self, repo: str, title: str, body: str | None) -> None:
        issues = self.fake.issues(repo)
        url = f"https://github.com/{repo}/issues/{len(issues) + 1}"
        issues.append(FakeIssue(len(issues) + 1, title, body or "", [], url))

    def issue_count(self, repo: str) -> int:
        return len(self.fake.issues(repo))

    def rate_limit(self, until: datetime) -> None:
        self.fake.rate_limited_until = until

    def go_down(self) -> None:
        self.fake.down = True


class GitHubWorld:
    """GithubSourceControl against FakeGitHubApi; failures are what GitHub would answer."""

    def __init__(self, server: HTTPServer) -> None:
        self.api = FakeGitHubApi(server, TOKEN)
        self.adapter: SourceControl = connect(self.api.base)

    def seed(self, repo: str, commits: list[Commit], refs: dict[str, str]) -> None:
        state = self.api.add_repo(repo)
        for c in commits:
            state.commits.append(self.api.commit_json(
                state, c.sha, name=c.author, authored=iso(c.authored_at),
                committed=iso(c.committed_at), message=f"{c.message}\n\nWhy, at length.",
            ))  # fmt: skip
        state.refs.update(refs)

    def add_issue(self, repo: str, title: str, body: str | None) -> None:
        self.api.add_issue(self.api.repos[repo], title, body, [])

    def issue_count(self, repo: str) -> int:
        return len(self.api.repos[repo].issues)

    def rate_limit(self, until: datetime) -> None:
        headers = {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0",
                   "X-RateLimit-Used": "5000", "X-RateLimit-Resource": "core",
                   "X-RateLimit-Reset": str(int(until.timestamp()))}  # fmt: skip
        body = {"message": "API rate limit exceeded for user ID 1. If you reach out to GitHub "
                "Support for help, please include the request ID 1234:5678.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-"
                "rest-api", "status": "403"}  # fmt: skip
        self.api.limited = (403, headers, body)

    def go_down(self) -> None:
        self.adapter = connect(dead_url())


@pytest.fixture(params=["fake", "github"])
def world(request: pytest.FixtureRequest, httpserver: HTTPServer) -> FakeWorld | GitHubWorld:
    """The same repository seen through either adapter: 300 commits, v1 = #9, v2 = #279."""
    made = FakeWorld() if request.param == "fake" else GitHubWorld(httpserver)
    commits = history(300)
    made.seed(
        REPO, commits, {"v1": commits[9].sha, "v2": commits[279].sha, "main": commits[-1].sha}
    )
    return made


@pytest.fixture
def gh(httpserver: HTTPServer) -> GitHubWorld:
    """Only the GitHub side, seeded as `world` is."""
    made = GitHubWorld(httpserver)
    commits = history(300)
    made.seed(REPO, commits, {"v1": commits[9].sha, "v2": commits[279].sha})
    return made


# --- the contract --------------------------------------------------------------------------------


def test_commits_between_lists_every_commit_of_the_range_oldest_first(world: Any) -> None:
    """More than GitHub's 250-commit answer: 270 commits, in order, messages cut to a line."""
    got = world.adapter.commits_between(REPO, "v1", "v2")
    assert got == history(300)[10:280]
    assert len(got) == 270


def test_commit_times_are_utc_datetimes(world: Any) -> None:
    first = world.adapter.commits_between(REPO, "v1", "v2")[0]
    assert first.authored_at == NOW - timedelta(hours=290)
    assert first.authored_at.tzinfo == UTC and first.committed_at.tzinfo == UTC
    assert world.adapter.commit_time(REPO, first.sha) == first.committed_at
    assert world.adapter.commit_time(REPO, "v2") == history(300)[279].committed_at


def test_a_range_with_nothing_new_is_empty(world: Any) -> None:
    assert world.adapter.commits_between(REPO, "v2", "v2") == []


def test_an_unknown_repository_is_not_found_by_name(world: Any) -> None:
    with pytest.raises(NotFound) as caught:
        world.adapter.commits_between("acme/nope", "v1", "v2")
    assert "acme/nope" in caught.value.message
    assert caught.value.details["repo"] == "acme/nope"
    with pytest.raises(NotFound, match="acme/nope"):
        world.adapter.commit_time("acme/nope", "v1")


@pytest.mark.parametrize(("base", "head"), [("v0", "v2"), ("v1", "no-such-branch")])
def test_an_unknown_ref_is_not_found_naming_the_ref_and_repo(
    world: Any, base: str, head: str
) -> None:
    with pytest.raises(NotFound) as caught:
        world.adapter.commits_between(REPO, base, head)
    missing = base if base == "v0" else head
    assert caught.value.details == {"repo": REPO, "ref": missing}
    assert missing in caught.value.message and REPO in caught.value.message


def test_commit_time_of_an_unknown_sha_is_none(world: Any) -> None:
    assert world.adapter.commit_time(REPO, "f" * 40) is None


def test_a_rate_limit_says_when_to_retry(world: Any) -> None:
    world.rate_limit(NOW + timedelta(minutes=15))
    with pytest.raises(AdapterUnavailable) as caught:
        world.adapter.commits_between(REPO, "v1", "v2")
    assert caught.value.details == {"retry_at": "2026-03-04T10:15:00+00:00", "retry_after_s": 900}
    assert "retry after 2026-03-04T10:15:00Z" in caught.value.message


def test_an_unreachable_source_is_unavailable(world: Any) -> None:
    world.go_down()
    with pytest.raises(Unavailable):
        world.adapter.commits_between(REPO, "v1", "v2")
    with pytest.raises(Unavailable):
        world.adapter.commit_time(REPO, "v1")
    with pytest.raises(Unavailable):
        world.adapter.open_issue(REPO, "t", "b", [], idempotency_key="k1")


def test_open_issue_creates_once_and_a_retry_finds_it(world: Any) -> None:
    world.add_issue(REPO, "someone else's issue", None)
    first = world.adapter.open_issue(REPO, "P1: bankchurn down", "Error rate 40%.", ["incident"],
                                     idempotency_key="incident-17:open-issue")  # fmt: skip
    again = world.adapter.open_issue(REPO, "P1: bankchurn down", "Error rate 40%.", ["incident"],
                                     idempotency_key="incident-17:open-issue")  # fmt: skip
    assert again == first
    assert first.number == 2 and first.url == f"https://github.com/{REPO}/issues/2"
    assert world.issue_count(REPO) == 2


def test_open_issue_finds_its_marker_beyond_the_first_page(world: Any) -> None:
    """A retry still finds the issue when 150 newer open issues push it to page two."""
    made = world.adapter.open_issue(REPO, "P1", "body", [], idempotency_key="inc-1")
    for i in range(150):
        world.add_issue(REPO, f"later {i}", f"mentions controlplane:inc-1 but not the marker {i}")
    assert world.adapter.open_issue(REPO, "P1", "body", [], idempotency_key="inc-1") == made
    assert world.issue_count(REPO) == 151


def test_another_key_opens_another_issue_even_if_it_extends_the_first(world: Any) -> None:
    one = world.adapter.open_issue(REPO, "P1", "body", [], idempotency_key="inc-1")
    two = world.adapter.open_issue(REPO, "P1", "body", [], idempotency_key="inc-12")
    assert one != two and world.issue_count(REPO) == 2


def test_malformed_repository_names_and_keys_are_refused(world: Any) -> None:
    with pytest.raises(InvalidSpec):
        world.adapter.commits_between("just-a-name", "v1", "v2")
    with pytest.raises(InvalidSpec):
        world.adapter.open_issue(REPO, "t", "b", [], idempotency_key="two words -->")


# --- GitHub only ---------------------------------------------------------------------------------


def compare_calls(gh: GitHubWorld) -> list[tuple[str, dict[str, str]]]:
    return [(path, query) for _, path, query in gh.api.requests if "/compare/" in path]


def test_compare_pages_follow_githubs_link_headers(gh: GitHubWorld) -> None:
    """PyGithub 2.10 asks for page=1 itself, then follows rel="next" (a /repositories/{id} URL)."""
    assert len(gh.adapter.commits_between(REPO, "v1", "v2")) == 270
    repo_id = gh.api.repos[REPO].id
    assert compare_calls(gh) == [
        (f"/repos/{REPO}/compare/v1...v2", {"page": "1", "per_page": "100"}),
        (f"/repositories/{repo_id}/compare/v1...v2", {"page": "2", "per_page": "100"}),
        (f"/repositories/{repo_id}/compare/v1...v2", {"page": "3", "per_page": "100"}),
    ]
    assert [m for m, _, _ in gh.api.requests] == ["GET"] * 3  # no per-commit fetches


def test_a_listing_shorter_than_total_commits_is_an_error_not_a_silent_truncation(
    gh: GitHubWorld,
) -> None:
    gh.api.compare_cap = 150
    with pytest.raises(AdapterError, match="listed 150 of the 270 commits"):
        gh.adapter.commits_between(REPO, "v1", "v2")


def test_timestamps_with_an_offset_are_converted_to_utc(gh: GitHubWorld) -> None:
    state = gh.api.repos[REPO]
    state.commits.append(gh.api.commit_json(
        state, "a" * 40, name="Grace Hopper", authored="2026-03-04T12:00:00+02:00",
        committed="2026-03-04T07:30:00-05:00", message="Offsets\n"))  # fmt: skip
    (made,) = gh.adapter.commits_between(REPO, state.commits[-2]["sha"], "a" * 40)
    assert made.authored_at == datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    assert made.committed_at == datetime(2026, 3, 4, 12, 30, tzinfo=UTC)
    assert made.authored_at.utcoffset() == timedelta(0)
    assert (made.author, made.message) == ("Grace Hopper", "Offsets")


def test_a_primary_rate_limit_answers_at_once_without_retrying(gh: GitHubWorld) -> None:
    gh.rate_limit(NOW + timedelta(hours=1))
    started = time.monotonic()
    with pytest.raises(AdapterUnavailable, match="retry after 2026-03-04T11:00:00Z"):
        gh.adapter.commits_between(REPO, "v1", "v2")
    assert time.monotonic() - started < 2
    assert len(gh.api.requests) == 1


@pytest.mark.parametrize(
    ("status", "headers", "wait"),
    [(429, {"Retry-After": "30"}, 30), (403, {"Retry-After": "120"}, 120), (403, {}, 60)],
    ids=["429-retry-after", "403-retry-after", "403-no-header"],
)
def test_a_secondary_rate_limit_waits_as_github_asks(
    gh: GitHubWorld, status: int, headers: dict[str, str], wait: int
) -> None:
    body = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes "
            "before you try again.", "documentation_url": "https://docs.github.com/rest",
            "status": str(status)}  # fmt: skip
    gh.api.limited = (status, headers, body)
    with pytest.raises(AdapterUnavailable) as caught:
        gh.adapter.open_issue(REPO, "t", "b", [], idempotency_key="k")
    assert caught.value.details["retry_after_s"] == wait
    assert len(gh.api.requests) == 1


def test_server_errors_are_unavailable_and_not_retried(gh: GitHubWorld) -> None:
    gh.api.fail_status = 502
    with pytest.raises(AdapterUnavailable, match="github answered 502"):
        gh.adapter.commit_time(REPO, "v1")
    assert len(gh.api.requests) == 1


def test_a_slow_github_times_out_as_unavailable(gh: GitHubWorld) -> None:
    gh.adapter = connect(gh.api.base, timeout_s=1)
    gh.api.delay_s = 1.5
    with pytest.raises(AdapterUnavailable, match="ReadTimeout"):
        gh.adapter.commit_time(REPO, "v1")
    assert len(gh.api.requests) == 1  # a read timeout is not resent


def test_a_refused_token_is_an_adapter_error(gh: GitHubWorld) -> None:
    gh.adapter = connect(gh.api.base, token="ghp_wrongwrongwrong")
    with pytest.raises(AdapterError, match="401") as caught:
        gh.adapter.commits_between(REPO, "v1", "v2")
    assert "ghp_wrong" not in caught.value.diagnostics()


def test_open_issue_sends_labels_and_the_hidden_marker(gh: GitHubWorld) -> None:
    ref = gh.adapter.open_issue(REPO, "P1: bankchurn", "Error rate 40%.\n", ["incident", "P1"],
                                idempotency_key="inc-9")  # fmt: skip
    sent = gh.api.repos[REPO].issues[ref.number - 1]
    assert sent["body"] == f"Error rate 40%.\n\n{issue_marker('inc-9')}\n"
    assert [label["name"] for label in sent["labels"]] == ["incident", "P1"]
    listing = [q for m, p, q in gh.api.requests if m == "GET" and p.endswith("/issues")]
    assert listing == [{"state": "open", "sort": "created", "direction": "desc", "per_page": "100"}]


def test_the_token_appears_in_no_repr_error_or_log_record(
    gh: GitHubWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="github")  # PyGithub pins its logger at INFO
    adapter = connect(gh.api.base, token=SecretStr(TOKEN))
    errors: list[ControlPlaneError] = []
    adapter.commits_between(REPO, "v1", "v2")
    adapter.open_issue(REPO, "P1", "body", ["incident"], idempotency_key="inc-3")
    for call in (lambda: adapter.commits_between(REPO, "v0", "v2"),
                 lambda: adapter.commit_time("acme/nope", "v1")):  # fmt: skip
        with pytest.raises(NotFound) as caught:
            call()
        errors.append(caught.value)
    gh.rate_limit(NOW + timedelta(minutes=5))
    with pytest.raises(AdapterUnavailable) as limited:
        adapter.commit_time(REPO, "v1")
    with pytest.raises(AdapterUnavailable) as down:
        connect(dead_url(), token=SecretStr(TOKEN)).commit_time(REPO, "v1")
    errors += [limited.value, down.value]
    assert any("github" in r.name for r in caplog.records)  # PyGithub did log its requests
    texts = [repr(adapter), str(adapter), repr(vars(adapter))]
    texts += [r.getMessage() for r in caplog.records]
    for err in errors:
        texts += [err.diagnostics(), json.dumps(err.to_json()), repr(err)]
        texts += ["".join(traceback.format_exception(err))]
    assert all(TOKEN not in text for text in texts)


def test_connect_refuses_an_empty_token() -> None:
    with pytest.raises(AdapterError, match="no github token"):
        GithubSourceControl.connect(SecretStr(""))
