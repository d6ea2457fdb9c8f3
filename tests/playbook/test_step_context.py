"""A playbook step is judged by the same rules as the API call it stands for: the rules see what
the records say (an incident's real severity), so an agent cannot resolve a P1 through a run
where the API would have asked a human."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.playbook.conftest import follow, step

Headers = dict[str, str]


def incident(client: TestClient, admin: Headers, severity: str) -> str:
    body = {"severity": severity, "title": "bankchurn errors", "service": "bankchurn",
            "environment": "staging"}  # fmt: skip
    r = client.post("/v1/incidents", json=body, headers=admin)
    assert r.status_code in (200, 201), r.text
    return str(r.json()["id"])


def close(client: TestClient, who: Headers, incident_id: str) -> dict[str, Any]:
    r = client.post("/v1/commands", json={"text": f"/closer {incident_id}"}, headers=who)
    assert r.status_code == 202, r.text
    return dict(follow(client, who, r.json()["id"]))


def status(client: TestClient, admin: Headers, incident_id: str) -> str:
    return str(client.get(f"/v1/incidents/{incident_id}", headers=admin).json()["status"])


def test_an_agent_resolving_a_p1_through_a_run_waits_for_a_human(
    client: TestClient, admin_headers: Headers, token_for: Any
) -> None:
    agent = token_for(name="claude-code", kind="agent", roles=("operator",))
    p1 = incident(client, admin_headers, "P1")
    run = close(client, agent, p1)
    gated = step(run, "resolve")
    assert (run["status"], gated["status"], gated["mode"]) == ("paused", "pending_approval",
                                                                "CONSULT")  # fmt: skip
    assert any("machine-resolves-blocking-incident" in r or "P1/P2" in r for r in gated["reasons"])
    assert status(client, admin_headers, p1) == "open"


def test_the_severity_is_read_from_the_incident_not_from_what_the_run_says(
    client: TestClient, admin_headers: Headers, token_for: Any
) -> None:
    agent = token_for(name="claude-code", kind="agent", roles=("operator",))
    p1 = incident(client, admin_headers, "P1")
    text = f"/closer {p1}"
    plan = client.post("/v1/commands", json={"text": text, "dry_run": True}, headers=agent)
    assert plan.status_code == 200, plan.text
    assert [s["mode"] for s in plan.json()["steps"]] == ["CONSULT"]  # the plan says so too


def test_a_human_or_a_lower_severity_goes_through(
    client: TestClient, admin_headers: Headers, token_for: Any
) -> None:
    human = token_for(name="alice", kind="human", roles=("operator",))
    agent = token_for(name="claude-code", kind="agent", roles=("operator",))
    p1, p3 = incident(client, admin_headers, "P1"), incident(client, admin_headers, "P3")
    assert close(client, human, p1)["status"] == "succeeded"
    assert close(client, agent, p3)["status"] == "succeeded"
    assert status(client, admin_headers, p1) == status(client, admin_headers, p3) == "resolved"
