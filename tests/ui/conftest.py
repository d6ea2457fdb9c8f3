"""Dashboard test helpers: people with tokens, a logged-in browser-like client each, and a
staging deployment waiting for a human."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from factories import settled
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.delivery.conftest import deploy_body

Headers = dict[str, str]
CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def token_of(headers: Headers) -> str:
    """The bearer token inside auth headers."""
    return headers["Authorization"].split(" ", 1)[1]


@dataclass
class Ui:
    """One logged-in dashboard user: its own cookie jar and the CSRF token of its session."""

    client: TestClient
    csrf: str

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)

    def post(self, path: str, data: dict[str, str] | None = None, **kw: Any) -> Any:
        """Submit a form with the session's CSRF token (unless `data` says otherwise)."""
        form = {"csrf_token": self.csrf, **(data or {})}
        return self.client.post(path, data=form, follow_redirects=False, **kw)


def login_form_csrf(client: TestClient) -> str:
    """Open the login page; its form's CSRF token (its twin is in a cookie)."""
    page = client.get("/ui/login")
    assert page.status_code == 200
    found = CSRF.search(page.text)
    assert found is not None
    return found.group(1)


def log_in(app: FastAPI, token: str) -> Ui:
    """A fresh client that logs in with a token and reads its session's CSRF token."""
    client = TestClient(app, raise_server_exceptions=False)
    csrf = login_form_csrf(client)
    r = client.post("/ui/login", data={"token": token, "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text
    home = client.get("/ui/")
    assert home.status_code == 200, home.text
    found = CSRF.search(home.text)
    assert found is not None
    return Ui(client, found.group(1))


@pytest.fixture
def people(client: TestClient, token_for) -> dict[str, Headers]:  # type: ignore[no-untyped-def]
    """An agent that ships, two human approvers, a viewer and an agent given the approver role."""
    return {
        "agent": token_for(name="claude-code", kind="agent", roles=("operator",)),
        "alice": token_for(name="alice", kind="human", roles=("approver", "operator")),
        "bob": token_for(name="bob", kind="human", roles=("approver",)),
        "vera": token_for(name="vera", kind="human", roles=("viewer",)),
        "rogue": token_for(name="rogue-agent", kind="agent", roles=("approver",)),
    }


@pytest.fixture
def ui_for(app: FastAPI, people: dict[str, Headers]) -> Iterator[Any]:
    """Log a named person in to the dashboard (clients closed after the test)."""
    opened: list[Ui] = []

    def make(name: str) -> Ui:
        ui = log_in(app, token_of(people[name]))
        opened.append(ui)
        return ui

    yield make
    for ui in opened:
        ui.client.close()


@pytest.fixture
def pending_staging(client: TestClient, people: dict[str, Headers]) -> dict[str, Any]:
    """The agent shipped bankchurn to dev (AUTO) and asked for staging: CONSULT, pending."""
    r = client.post("/v1/deployments", json=deploy_body("dev"), headers=people["agent"])
    assert r.status_code == 202, r.text
    assert settled(client, people["agent"], r.json())["status"] == "succeeded"
    r = client.post("/v1/deployments", json=deploy_body("staging"), headers=people["agent"])
    assert r.status_code == 202 and r.json()["status"] == "pending_approval", r.text
    return dict(r.json())


def audit_records(client: TestClient, headers: Headers, **params: str) -> list[dict[str, Any]]:
    """Audit lines matching filters, through the API."""
    r = client.get("/v1/audit", params={"limit": "1000", **params}, headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json()["data"])
