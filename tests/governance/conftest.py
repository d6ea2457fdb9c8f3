"""Who acts in the governance tests: an agent, a CI bot, three humans and a drift job."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

Headers = dict[str, str]


@pytest.fixture
def people(client: TestClient, token_for) -> dict[str, Headers]:  # type: ignore[no-untyped-def]
    """Tokens by name; every human may approve, the machines hold operator (and more) roles."""
    return {
        "agent": token_for(name="claude-code", kind="agent", roles=("operator", "approver")),
        "ci": token_for(name="ci-bot", kind="ci", roles=("operator", "approver", "admin")),
        "alice": token_for(name="alice", kind="human", roles=("approver", "operator")),
        "bob": token_for(name="bob", kind="human", roles=("approver", "operator")),
        "carol": token_for(name="carol", kind="human", roles=("approver", "operator")),
        "drift-job": token_for(name="bankchurn-drift", kind="service", roles=("operator",)),
    }


def decide(client: TestClient, who: Headers, env: str, service: str = "bankchurn") -> str:
    """The final mode of deploying `service` to `env` now."""
    body = {"operation": "deploy", "environment": env, "service": service}
    r = client.post("/v1/decisions", json=body, headers=who)
    assert r.status_code == 200, r.text
    return str(r.json()["final_mode"])


def signal(client: TestClient, who: Headers, name: str, **scope: str) -> dict[str, Any]:
    """One signal's effective reading for a scope."""
    r = client.get("/v1/signals", params=scope, headers=who)
    assert r.status_code == 200, r.text
    return next(s for s in r.json()["data"] if s["name"] == name)


def refusals(client: TestClient, admin: Headers, actor: str) -> list[dict[str, Any]]:
    """The refusal records of one identity, oldest first."""
    page = client.get("/v1/audit", params={"actor": actor, "result": "refused"}, headers=admin)
    return list(page.json()["data"])


def approve(client: TestClient, who: Headers, approval_id: str, comment: str = "ok") -> Any:
    """One vote for an approval request."""
    return client.post(
        f"/v1/approvals/{approval_id}/approve", json={"comment": comment}, headers=who
    )
