"""A P1 incident gets one GitHub issue (through PyGithub against a local GitHub API), filed after
the incident is committed: GitHub down never blocks or loses the incident, and a retry after a
crash finds the issue it opened instead of opening a second one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlmodel import Session

from controlplane.adapters.source_control_github import GithubSourceControl
from controlplane.adapters.workload.fake import FakeWorkloadBackend
from controlplane.app import create_app
from controlplane.clock import ManualClock
from controlplane.config import Settings
from controlplane.errors import AdapterUnavailable
from controlplane.incident import issues
from tests.adapters.fake_github import FakeGitHubApi
from tests.adapters.test_source_control import dead_url

GH_TOKEN = "ghp_test_token_0123456789abcdef"
REPO = "acme/ml-services"


@pytest.fixture
def github(httpserver: HTTPServer) -> FakeGitHubApi:
    api = FakeGitHubApi(httpserver, GH_TOKEN)
    api.add_repo(REPO)
    return api


def adapter(base_url: str) -> GithubSourceControl:
    return GithubSourceControl.connect(
        GH_TOKEN, base_url, 2, seconds_between_requests=None, seconds_between_writes=None
    )


def open_incident(client: TestClient, headers: dict[str, str], severity: str = "P1") -> str:
    body = {"severity": severity, "title": "bankchurn 5xx at 40%", "service": "bankchurn",
            "environment": "production"}  # fmt: skip
    r = client.post("/v1/incidents", json=body, headers=headers)
    assert r.status_code in (200, 201), r.text
    return str(r.json()["id"])


def file_round(app: FastAPI, source: GithubSourceControl) -> int:
    ctx = app.state.ctx
    return issues.file_round(engine=ctx.engine, clock=ctx.clock, source=source, repo=REPO)


def timeline(client: TestClient, headers: dict[str, str], incident_id: str) -> list[dict[str, Any]]:
    r = client.get(f"/v1/incidents/{incident_id}", headers=headers)
    return list(r.json()["timeline"])


def test_a_p1_gets_one_issue_and_its_timeline_links_it(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], github: FakeGitHubApi
) -> None:
    incident = open_incident(client, admin_headers)
    open_incident(client, admin_headers, severity="P2")  # not filed
    source = adapter(github.base)
    assert file_round(app, source) == 1
    assert file_round(app, source) == 0  # filed once
    [issue] = github.repos[REPO].issues
    assert issue["title"].startswith("[P1] bankchurn / production:")
    assert incident in issue["body"] and f"controlplane:incident:{incident}" in issue["body"]
    assert {label["name"] for label in issue["labels"]} == {"incident", "P1", "service:bankchurn"}
    [line] = [e for e in timeline(client, admin_headers, incident) if e["kind"] == "issue"]
    assert line["data"]["number"] == issue["number"] and issue["html_url"] in line["text"]


def test_raising_an_incident_to_p1_files_it(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], github: FakeGitHubApi
) -> None:
    incident = open_incident(client, admin_headers, severity="P3")
    source = adapter(github.base)
    assert file_round(app, source) == 0
    r = client.patch(f"/v1/incidents/{incident}", json={"severity": "P1"}, headers=admin_headers)
    assert r.status_code == 200, r.text
    assert file_round(app, source) == 1 and len(github.repos[REPO].issues) == 1


def test_github_down_keeps_the_incident_and_a_later_round_files_it(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], github: FakeGitHubApi
) -> None:
    incident = open_incident(client, admin_headers)
    with pytest.raises(AdapterUnavailable):
        file_round(app, adapter(dead_url()))
    shown = client.get(f"/v1/incidents/{incident}", headers=admin_headers).json()
    assert shown["status"] == "open" and not [e for e in shown["timeline"] if e["kind"] == "issue"]
    assert file_round(app, adapter(github.base)) == 1


def test_a_crash_after_github_answered_does_not_open_a_second_issue(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], github: FakeGitHubApi
) -> None:
    """The previous round opened the issue and died before its commit: the retry adopts it."""
    incident = open_incident(client, admin_headers)
    source = adapter(github.base)
    with Session(app.state.ctx.engine) as session:
        [waiting] = issues.awaiting_issue(session=session)
    title, body, labels = issues.issue_text(waiting)
    source.open_issue(REPO, title, body, labels, idempotency_key=f"incident:{incident}")
    assert file_round(app, source) == 1
    assert len(github.repos[REPO].issues) == 1


@pytest.fixture
def filing_app(
    settings: Settings, clock: ManualClock, workloads: FakeWorkloadBackend, github: FakeGitHubApi
) -> Iterator[FastAPI]:
    given = {"github_token": SecretStr(GH_TOKEN), "github_repo": REPO,
             "github_api_url": github.base, "github_issue_on_p1": True,
             "github_issue_every_s": 0.05}  # fmt: skip
    configured = settings.model_copy(update=given)
    application = create_app(configured, clock=clock, workloads=workloads)
    yield application
    application.state.ctx.close()


def test_the_running_plane_files_p1_issues_in_the_background(
    filing_app: FastAPI, github: FakeGitHubApi
) -> None:
    headers = {"Authorization": f"Bearer {filing_app.state.ctx.admin_token}"}
    with TestClient(filing_app) as client:
        incident = open_incident(client, headers)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not github.repos[REPO].issues:
            time.sleep(0.05)
        assert len(github.repos[REPO].issues) == 1
        while time.monotonic() < deadline:
            if any(e["kind"] == "issue" for e in timeline(client, headers, incident)):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the issue never reached the incident's timeline")
