"""No state change without a token; wrong role is 403; tokens are stored hashed."""

from __future__ import annotations

import os
import re
import stat

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

STATE_CHANGING = [
    ("post", "/v1/decisions", {"operation": "deploy", "environment": "dev"}),
    ("put", "/v1/signals/off_hours", {"ttl": "1h", "reason": "window"}),
    ("delete", "/v1/signals/off_hours", None),
    ("post", "/v1/incidents", {"severity": "P1", "title": "x"}),
    ("post", "/v1/incidents/abc/resolve", {"resolution": "x"}),
    ("post", "/v1/drift-reports", {}),
    ("post", "/v1/tokens", {"name": "eve", "roles": ["admin"]}),
]


@pytest.mark.parametrize(("method", "path", "body"), STATE_CHANGING)
def test_state_changing_endpoints_need_a_token(client: TestClient, method, path, body) -> None:
    kwargs = {"json": body} if body is not None else {}
    r = client.request(method, path, **kwargs)
    assert r.status_code == 401, (path, r.text)
    bad = client.request(method, path, headers={"Authorization": "Bearer cpt_nope"}, **kwargs)
    assert bad.status_code == 401


def test_viewer_cannot_decide_for_real_but_can_dry_run(client: TestClient, token_for) -> None:
    viewer = token_for(roles=("viewer",))
    real = client.post(
        "/v1/decisions", json={"operation": "deploy", "environment": "dev"}, headers=viewer
    )
    assert real.status_code == 403
    assert real.json()["error"]["details"]["required_role"] == "operator"
    dry = client.post(
        "/v1/decisions",
        json={"operation": "deploy", "environment": "dev", "dry_run": True},
        headers=viewer,
    )
    assert dry.status_code == 200


def test_only_admin_issues_tokens(client: TestClient, token_for) -> None:
    operator = token_for(roles=("operator",))
    r = client.post("/v1/tokens", json={"name": "mallory", "roles": ["admin"]}, headers=operator)
    assert r.status_code == 403


def test_agent_decisions_are_audited_with_the_agent_identity(
    client: TestClient, token_for, admin_headers
) -> None:
    agent = token_for(name="claude-code", kind="agent", roles=("operator",))
    client.post("/v1/decisions", json={"operation": "deploy", "environment": "dev"}, headers=agent)
    line = client.get("/v1/audit?operation=deploy", headers=admin_headers).json()["data"][0]
    assert line["agent"] == "claude-code" and line["actor_kind"] == "agent"


def test_tokens_are_stored_hashed_and_admin_file_is_private(
    app: FastAPI, client: TestClient, token_for
) -> None:
    headers = token_for(name="ci-bot", kind="ci", roles=("operator",))
    token = headers["Authorization"].split()[1]
    with app.state.ctx.engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM api_token")).scalars().all()
    assert token not in stored and all(len(h) == 64 for h in stored)
    path = app.state.ctx.settings.admin_token_path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    audit = client.get("/v1/audit/export", headers=headers).text
    assert token not in audit


def test_whoami(client: TestClient, token_for) -> None:
    headers = token_for(name="alice", kind="human", roles=("approver",))
    me = client.get("/v1/whoami", headers=headers).json()
    assert me["name"] == "alice" and me["roles"] == ["approver"]


def test_every_state_changing_route_needs_a_token(app, client: TestClient) -> None:
    """Derived from the app's own API description, so a new route cannot slip through."""
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/v1/")
        for method in operations
        if method != "get"
    }
    assert ("POST", "/v1/deployments") in routes and len(routes) >= 10
    for method, path in sorted(routes):
        url = re.sub(r"\{[^}]+\}", "x", path)
        r = client.request(method, url, json={})
        assert r.status_code == 401, (method, path, r.status_code, r.text)
