"""Dashboard pages over the API's own services: what each page shows, roles, bad input."""

from __future__ import annotations

import pytest
from factories import settled
from fastapi.testclient import TestClient

from tests.ui.conftest import audit_records


def test_a_reviewer_sees_the_pending_staging_deployment_with_its_explanation(
    ui_for, pending_staging
) -> None:
    bob = ui_for("bob")
    queue = bob.get("/ui/approvals")
    assert queue.status_code == 200
    assert "deploy bankchurn@sha256:" in queue.text and "claude-code" in queue.text
    page = bob.get(f"/ui/approvals/{pending_staging['approval_id']}")
    assert page.status_code == 200
    for shown in ("CONSULT", "base mode", "what would change it", "promotion", "off_hours"):
        assert shown in page.text, shown
    assert 'formaction="/ui/approvals/' in page.text  # bob may approve: the buttons are there


def test_approving_in_the_dashboard_runs_the_deployment(
    ui_for, pending_staging, client: TestClient, people, admin_headers
) -> None:
    bob = ui_for("bob")
    approval = pending_staging["approval_id"]
    r = bob.post(f"/ui/approvals/{approval}/approve", {"comment": "ship it"})
    assert r.status_code == 303 and r.headers["location"] == f"/ui/approvals/{approval}"
    done = settled(client, people["bob"], {"id": pending_staging["id"], "status": "approved"})
    assert done["status"] == "succeeded" and done["approvals"] == 1
    detail = bob.get(f"/ui/deployments/{pending_staging['id']}")
    assert "approve by bob: ship it" in detail.text and "succeeded" in detail.text
    votes = audit_records(client, admin_headers, operation="approval.approve")
    assert [v["agent"] for v in votes] == ["bob"]
    assert "Nothing waits for approval." in bob.get("/ui/approvals").text


def test_a_viewer_sees_no_buttons_and_a_forged_vote_is_refused_and_recorded(
    ui_for, pending_staging, client: TestClient, admin_headers
) -> None:
    vera = ui_for("vera")
    approval = pending_staging["approval_id"]
    page = vera.get(f"/ui/approvals/{approval}")
    assert page.status_code == 200 and "formaction" not in page.text
    assert "you lack the approver role" in page.text
    forged = vera.post(f"/ui/approvals/{approval}/approve", {"comment": "sneaky"})
    assert forged.status_code == 403 and "lacks the &#39;approver&#39; role" in forged.text
    refused = audit_records(client, admin_headers, actor="vera", result="refused")
    assert [r["outputs"]["status"] for r in refused] == [403]
    state = client.get(f"/v1/approvals/{approval}", headers=admin_headers).json()
    assert state["status"] == "pending" and state["votes"] == []


def test_an_agent_with_the_approver_role_and_the_requester_cannot_vote(
    ui_for, pending_staging, client: TestClient, admin_headers
) -> None:
    approval = pending_staging["approval_id"]
    rogue = ui_for("rogue")
    assert "formaction" not in rogue.get(f"/ui/approvals/{approval}").text
    r = rogue.post(f"/ui/approvals/{approval}/approve")
    assert r.status_code == 403 and "only humans approve" in r.text
    agent = ui_for("agent")
    assert agent.post(f"/ui/approvals/{approval}/approve").status_code == 403
    state = client.get(f"/v1/approvals/{approval}", headers=admin_headers).json()
    assert state["status"] == "pending"


def test_a_rejection_needs_a_comment_and_then_ends_the_request(
    ui_for, pending_staging, client: TestClient, admin_headers
) -> None:
    bob = ui_for("bob")
    approval = pending_staging["approval_id"]
    r = bob.post(f"/ui/approvals/{approval}/reject", {"comment": "  "})
    assert r.status_code == 422 and "rejection needs a comment" in r.text
    r = bob.post(f"/ui/approvals/{approval}/reject", {"comment": "not this week"})
    assert r.status_code == 303
    page = bob.get("/ui/approvals")
    assert "Recently closed" in page.text and "not this week" in page.text


def test_the_overview_shows_what_runs_where_and_the_modes_now(ui_for, pending_staging) -> None:
    page = ui_for("vera").get("/ui/")
    assert page.status_code == 200
    assert "bankchurn" in page.text and "its deployment" in page.text  # dev is live
    assert "nothing deployed" in page.text  # production is not
    assert page.text.count('class="mode mode-stop"') >= 1  # rollback is STOP everywhere
    for signal in ("incident_active", "off_hours", "recent_rollback", "error_budget_exhausted"):
        assert signal in page.text


def test_pages_with_no_data_say_so(ui_for) -> None:
    vera = ui_for("vera")
    assert "No playbook runs yet." in vera.get("/ui/runs").text
    assert "No incidents." in vera.get("/ui/incidents").text
    assert "No deployments yet." in vera.get("/ui/deployments").text
    assert "Nothing waits for approval." in vera.get("/ui/approvals").text


def test_an_incident_title_with_markup_is_shown_escaped(ui_for, client: TestClient, people) -> None:
    body = {"severity": "P3", "title": "<script>alert(1)</script><b>x</b>", "service": "bankchurn"}
    r = client.post("/v1/incidents", json=body, headers=people["alice"])
    assert r.status_code in (200, 201), r.text
    page = ui_for("vera").get("/ui/incidents")
    assert "<script>alert(1)" not in page.text and "<b>x</b>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/ui/deployments?status=exploded", 422, "status"),
        ("/ui/deployments?colour=red", 422, "unknown filter field"),
        ("/ui/deployments/nope", 404, "deployment nope not found"),
        ("/ui/runs?status=bogus", 422, "expected one of"),
        ("/ui/runs/nope", 404, "not found"),
        ("/ui/incidents/nope", 404, "not found"),
        ("/ui/approvals/nope", 404, "approval nope not found"),
        ("/ui/no-such-page", 404, "Not Found"),
    ],
)
def test_bad_links_are_clear_4xx_pages(ui_for, path: str, status: int, says: str) -> None:
    page = ui_for("vera").get(path)
    assert page.status_code == status and says in page.text
    assert page.headers["content-type"].startswith("text/html")


def _run_done(client: TestClient, who: dict[str, str], run_id: str) -> dict:
    import time

    deadline = time.monotonic() + 60
    while True:
        run = client.get(f"/v1/runs/{run_id}", headers=who).json()
        if run["status"] not in ("queued", "running"):
            return dict(run)
        assert time.monotonic() < deadline, run
        time.sleep(0.05)


def test_a_playbook_run_and_its_incident_show_their_timelines(
    ui_for, client: TestClient, people
) -> None:
    r = client.post(
        "/v1/commands",
        json={"text": "/incident bankchurn environment=dev severity=P4 title=slow-scores"},
        headers=people["alice"],
    )
    assert r.status_code == 202, r.text
    run = _run_done(client, people["alice"], r.json()["id"])
    vera = ui_for("vera")
    listing = vera.get("/ui/runs")
    assert "/incident" in listing.text and run["id"] in listing.text
    page = vera.get(f"/ui/runs/{run['id']}")
    for s in run["steps"]:
        assert s["step_id"] in page.text
    assert 'class="mode mode-auto"' in page.text  # each step shows the mode it was given
    incidents = client.get("/v1/incidents", headers=people["alice"]).json()["data"]
    assert [i["title"] for i in incidents] == ["slow-scores"]
    detail = vera.get(f"/ui/incidents/{incidents[0]['id']}")
    assert "slow-scores" in detail.text and "opened" in detail.text
    assert "no deployment linked" in detail.text


def test_an_incident_links_to_the_deployment_that_caused_it(
    ui_for, client: TestClient, people, pending_staging
) -> None:
    dev = client.get("/v1/deployments?environment=dev", headers=people["alice"]).json()["data"][0]
    body = {"severity": "P3", "title": "bad scores", "service": "bankchurn", "environment": "dev"}
    incident = client.post("/v1/incidents", json=body, headers=people["alice"]).json()
    link = {"deployment_id": dev["id"]}
    r = client.patch(f"/v1/incidents/{incident['id']}", json=link, headers=people["alice"])
    assert r.status_code == 200, r.text
    page = ui_for("vera").get(f"/ui/incidents/{incident['id']}")
    assert f'href="/ui/deployments/{dev["id"]}"' in page.text


def test_an_incident_before_the_rollout_voids_the_approval_and_the_page_says_why(
    ui_for, client: TestClient, people, pending_staging, admin_headers
) -> None:
    body = {"severity": "P1", "title": "staging on fire", "service": "bankchurn",
            "environment": "staging"}  # fmt: skip
    r = client.post("/v1/incidents", json=body, headers=people["alice"])
    assert r.status_code in (200, 201), r.text
    bob = ui_for("bob")
    first = pending_staging["approval_id"]
    assert bob.post(f"/ui/approvals/{first}/approve", {"comment": "ok"}).status_code == 303
    done = settled(client, people["bob"], {"id": pending_staging["id"], "status": "approved"})
    assert done["status"] == "pending_approval" and done["approval_id"] != first
    page = bob.get(f"/ui/approvals/{first}")
    assert "Voided:" in page.text and "incident_active" in page.text
    queue = bob.get("/ui/approvals")
    assert done["approval_id"] in queue.text and "STOP" in queue.text
