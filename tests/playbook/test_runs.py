"""Runs through the API: AUTO steps run, a STOP step waits for two humans, retries, cancel."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from controlplane.config import Settings
from tests.playbook.conftest import count, follow, step

Headers = dict[str, str]


def people(token_for: Any) -> dict[str, Headers]:
    return {
        "alice": token_for(name="alice", kind="human", roles=("approver", "operator")),
        "bob": token_for(name="bob", kind="human", roles=("approver", "operator")),
        "carol": token_for(name="carol", kind="human", roles=("approver", "operator")),
        "agent": token_for(name="claude-code", kind="agent", roles=("operator", "approver")),
    }


def start(client: TestClient, who: Headers, text: str) -> Any:
    r = client.post("/v1/commands", json={"text": text}, headers=who)
    assert r.status_code == 202, r.text
    return r.json()


def test_a_stop_step_pauses_the_run_until_two_other_humans_approve(
    client: TestClient, token_for: Any, settings: Settings
) -> None:
    who = people(token_for)
    run = follow(client, who["alice"], start(client, who["alice"], "/touchy bankchurn")["id"])
    assert run["status"] == "paused"
    gated = step(run, "gated")
    assert (gated["status"], gated["mode"]) == ("pending_approval", "STOP")
    assert count(settings, "first") == 1 and count(settings, "last") == 0
    approval = gated["approval_id"]
    # the requester and an agent may not approve; their votes are refused and nothing runs
    for refused in ("alice", "agent"):
        r = client.post(
            f"/v1/approvals/{approval}/approve", json={"comment": "me"}, headers=who[refused]
        )
        assert r.status_code == 403, r.text
    r = client.post(f"/v1/approvals/{approval}/approve", json={"comment": "ok"}, headers=who["bob"])
    assert r.status_code == 200, r.text
    assert follow(client, who["alice"], run["id"])["status"] == "paused"  # one of two
    r = client.post(
        f"/v1/approvals/{approval}/approve", json={"comment": "ok"}, headers=who["carol"]
    )
    assert r.status_code == 202, r.text
    done = follow(client, who["alice"], run["id"])
    assert done["status"] == "succeeded", done["reason"]
    assert step(done, "gated")["approvers"] == ["bob", "carol"]
    assert count(settings, "first") == 1 and count(settings, "last") == 1


def test_a_failing_step_is_retried_under_one_key_until_it_works(
    client: TestClient, token_for: Any, settings: Settings
) -> None:
    who = people(token_for)
    run = follow(client, who["alice"], start(client, who["alice"], "/flaky fails=2")["id"])
    assert run["status"] == "succeeded", run["reason"]
    shaky = step(run, "shaky")
    assert shaky["attempts"] == 3
    tries = (settings.state_dir / "effects" / "shaky.tries").read_text().split()
    assert len(set(tries)) == 1 and tries[0].endswith(":shaky:1")  # one idempotency key


def test_a_step_that_keeps_failing_fails_the_run_and_resume_runs_it_again(
    client: TestClient, token_for: Any, settings: Settings
) -> None:
    who = people(token_for)
    run = follow(client, who["alice"], start(client, who["alice"], "/flaky fails=5")["id"])
    assert run["status"] == "failed" and "failed on purpose" in run["reason"]
    assert count(settings, "shaky") == 0
    r = client.post(f"/v1/runs/{run['id']}/resume", headers=who["alice"])
    assert r.status_code == 202, r.text
    again = follow(client, who["alice"], run["id"])
    assert again["status"] == "succeeded", again["reason"]  # 3 more tries: the 6th works
    assert count(settings, "shaky") == 1


def test_bad_commands_say_why_and_store_nothing(client: TestClient, token_for: Any) -> None:
    who = people(token_for)
    for text, code in (
        ("/nope", 404),
        ("/touchy", 422),  # service is required
        ("/touchy nosuch", 422),
        ("/touchy bankchurn env=moon", 422),
        ("/touchy bankchurn colour=red", 422),
        ("touchy bankchurn", 422),
    ):
        r = client.post("/v1/commands", json={"text": text}, headers=who["alice"])
        assert r.status_code == code, (text, r.text)
        assert r.json()["error"]["details"].get("usage"), text
    assert client.get("/v1/runs", headers=who["alice"]).json()["count"] == 0


def test_help_is_generated_from_the_inputs(client: TestClient, token_for: Any) -> None:
    who = people(token_for)
    r = client.post("/v1/commands", json={"text": "/help"}, headers=who["alice"])
    assert r.status_code == 200 and "/touchy" in r.json()["usage"]
    r = client.post("/v1/commands", json={"text": "/touchy --help"}, headers=who["alice"])
    assert r.status_code == 200 and "service" in r.json()["usage"]


def test_dry_run_shows_each_steps_mode_and_changes_nothing(
    client: TestClient, token_for: Any, settings: Settings
) -> None:
    who = people(token_for)
    r = client.post(
        "/v1/commands", json={"text": "/touchy bankchurn", "dry_run": True}, headers=who["alice"]
    )
    assert r.status_code == 200, r.text
    plan = r.json()
    assert [s["mode"] for s in plan["steps"]] == ["AUTO", "STOP", "AUTO"]
    assert plan["steps"][1]["unresolved"] == ["steps.first.outputs.count"]
    assert count(settings, "first") == 0
    assert client.get("/v1/runs", headers=who["alice"]).json()["count"] == 0


def test_cancel_while_paused_closes_the_approval(
    client: TestClient, token_for: Any, settings: Settings
) -> None:
    who = people(token_for)
    run = follow(client, who["alice"], start(client, who["alice"], "/touchy bankchurn")["id"])
    approval = step(run, "gated")["approval_id"]
    r = client.post(
        f"/v1/runs/{run['id']}/cancel", json={"reason": "wrong service"}, headers=who["alice"]
    )
    assert r.status_code == 202, r.text
    done = follow(client, who["alice"], run["id"], until=("cancelled",))
    assert step(done, "gated")["status"] == "cancelled"
    assert client.get(f"/v1/approvals/{approval}", headers=who["bob"]).json()["status"] == "voided"
    assert count(settings, "last") == 0


def test_a_step_past_its_timeout_fails_and_hung_actions_never_starve_other_runs(
    client: TestClient, token_for: Any, settings: Settings
) -> None:
    """Nine actions hang (more than any fixed pool of step threads): each step fails at its
    timeout, and a run started after them still gets a thread and finishes."""
    alice = people(token_for)["alice"]
    hung = [start(client, alice, f"/hung name=hung{i} seconds=15")["id"] for i in range(9)]
    for run_id in hung:
        run = follow(client, alice, run_id, until=("failed",))
        assert "timed out after 1s" in (step(run, "stuck")["error"] or ""), run["reason"]
    quick = follow(client, alice, start(client, alice, "/hung name=quick seconds=0")["id"])
    assert quick["status"] == "succeeded", quick["reason"]
    assert count(settings, "quick") == 1 and count(settings, "hung0") == 0
