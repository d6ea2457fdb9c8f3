"""Lead time from GitHub's compare range (PyGithub against a local fake of GitHub's REST API):
commit times of every change, cached across refreshes, and the request's commit times when
GitHub is down, said so in the answer."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer

from controlplane.adapters.workload.fake import FakeWorkloadBackend
from controlplane.app import create_app
from controlplane.clock import ManualClock
from controlplane.config import Settings
from tests.adapters.fake_github import FakeGitHubApi, iso

from .conftest import Add, deployment

TOKEN = "ghp_" + "D0r4L34dT1m3" * 3
REPO = "acme/ml-services"


def sha(n: int) -> str:
    return hashlib.sha1(f"commit {n}".encode()).hexdigest()


@pytest.fixture
def github(httpserver: HTTPServer, clock: ManualClock) -> FakeGitHubApi:
    """A repository with commits 0..3: #0 fifty days ago, #1-#3 in the last three days."""
    api = FakeGitHubApi(httpserver, TOKEN)
    repo = api.add_repo(REPO)
    now = clock.now()
    when = {0: now - timedelta(days=50), 1: now - timedelta(days=3),
            2: now - timedelta(days=2, hours=5), 3: now - timedelta(days=2, hours=1)}  # fmt: skip
    for n, at in when.items():
        repo.commits.append(api.commit_json(
            repo, sha(n), name="Ada Lovelace", authored=iso(at - timedelta(minutes=30)),
            committed=iso(at), message=f"change {n}",
        ))  # fmt: skip
    return api


@pytest.fixture
def gh_app(settings: Settings, clock: ManualClock, github: FakeGitHubApi) -> Iterator[FastAPI]:
    """A plane whose settings point source control at the fake GitHub."""
    configured = settings.model_copy(
        update={"github_token": TOKEN, "github_repo": REPO, "github_api_url": github.base}
    )
    application = create_app(configured, clock=clock, workloads=FakeWorkloadBackend())
    yield application
    application.state.ctx.close()


@pytest.fixture
def shipped(gh_app: FastAPI, add: Add, clock: ManualClock) -> datetime:
    """#0 went to production 40 days ago; #3 two days ago (its request says 10 h before)."""
    now = clock.now()
    add(deployment(now - timedelta(days=40), commit_sha=sha(0)))
    finished = now - timedelta(days=2)
    add(deployment(finished, commit_sha=sha(3), commit_time=finished - timedelta(hours=10)))
    return finished


def compares(api: FakeGitHubApi) -> int:
    return sum("/compare/" in path for _, path, _ in api.requests)


def test_lead_time_is_over_every_commit_of_the_compare_range_and_cached(
    gh_app: FastAPI, shipped: datetime, github: FakeGitHubApi
) -> None:
    """Changes #1-#3 shipped 24 h, 5 h and 1 h after their commits: median 5 h over 3."""
    headers = {"Authorization": f"Bearer {gh_app.state.ctx.admin_token}"}
    with TestClient(gh_app) as client:
        body = client.get("/v1/dora", headers=headers).json()
        lead = body["overall"]["lead_time"]
        assert (lead["value"], lead["denominator"]) == (5 * 3600, 3)
        source = body["lead_time_source"]
        assert (source["source"], source["adapter"]) == ("source_control", "github")
        assert (source["from_source_control"], source["from_request"]) == (1, 0)
        asked = compares(github)
        assert asked >= 1
        again = client.get("/v1/dora", params={"window": 90}, headers=headers).json()
        assert again["overall"]["lead_time"]["value"] == 5 * 3600
        assert compares(github) == asked  # a refresh asks GitHub nothing it already answered


def test_github_down_falls_back_to_the_request_commit_times_and_says_so(
    gh_app: FastAPI, shipped: datetime, github: FakeGitHubApi
) -> None:
    github.fail_status = 503
    headers = {"Authorization": f"Bearer {gh_app.state.ctx.admin_token}"}
    with TestClient(gh_app) as client:
        response = client.get("/v1/dora", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["overall"]["lead_time"]["value"] == 10 * 3600  # the request's commit time
    source = body["lead_time_source"]
    assert source["source"] == "request" and source["from_request"] == 1
    assert "source control unavailable" in source["note"] and "503" in source["note"]
    assert TOKEN not in response.text
