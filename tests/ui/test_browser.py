"""Journeys 3 and 7 in a real browser: Playwright driving Debian's Chromium (never a download).

A reviewer logs in, sees the pending staging deployment, approves it as the second human, sees it
run, finds its records in the audit review and exports them; a viewer sees no approve button and
a forged vote is refused; a missing or wrong CSRF token is refused. Every page is screenshot at
desktop and phone widths into $CONTROLPLANE_SCREENSHOT_DIR (default artifacts/screenshots).
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from factories import served, settled
from fastapi import FastAPI

from controlplane.clock import ManualClock
from tests.delivery.conftest import deploy_body

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
REPO = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("CONTROLPLANE_SCREENSHOT_DIR", REPO / "artifacts" / "screenshots"))
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium package at /usr/bin/chromium"
    ),
]


@pytest.fixture
def plane(app: FastAPI) -> Iterator[dict[str, Any]]:
    """The plane over real HTTP with people holding tokens, and one staging deployment waiting."""
    with served(app) as base, httpx.Client(base_url=base, timeout=30) as http:
        admin = {"Authorization": f"Bearer {app.state.ctx.admin_token}"}
        tokens = {}
        for name, kind, roles in (
            ("claude-code", "agent", ["operator"]),
            ("alice", "human", ["approver", "operator"]),
            ("bob", "human", ["approver"]),
            ("vera", "human", ["viewer"]),
        ):
            r = http.post("/v1/tokens", json={"name": name, "kind": kind, "roles": roles},
                          headers=admin)  # fmt: skip
            assert r.status_code == 201, r.text
            tokens[name] = r.json()["token"]
        agent = {"Authorization": f"Bearer {tokens['claude-code']}"}
        r = http.post("/v1/deployments", json=deploy_body("dev"), headers=agent)
        assert settled(http, agent, r.json())["status"] == "succeeded"
        alice = {"Authorization": f"Bearer {tokens['alice']}"}
        r = http.post("/v1/deployments", json=deploy_body("staging"), headers=alice)
        assert r.status_code == 202 and r.json()["status"] == "pending_approval", r.text
        yield {"base": base, "http": http, "tokens": tokens, "admin": admin, "staging": r.json()}


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium from the system package."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


class Person:
    """One browser context (its own cookies), logged in as someone; records console errors."""

    def __init__(self, browser: Any, base: str, token: str) -> None:
        self.base = base
        self.context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto("/ui/login")
        self.page.fill("#token", token)
        self.page.click("button[type=submit]")
        self.page.wait_for_url("**/ui/")

    def _console(self, message: Any) -> None:
        """Script errors and CSP violations; a 4xx page the test asked for is not one."""
        if message.type == "error" and "responded with a status of 4" not in message.text:
            self.errors.append(message.text)

    def go(self, path: str) -> Any:
        response = self.page.goto(path)
        self.page.wait_for_load_state("networkidle")
        return response

    def shoot(self, name: str) -> None:
        """Screenshot the current page at desktop and phone widths."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        for label, (width, height) in WIDTHS.items():
            self.page.set_viewport_size({"width": width, "height": height})
            self.page.wait_for_timeout(150)  # charts redraw on resize
            self.page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
        self.page.set_viewport_size({"width": 1280, "height": 900})


def test_a_reviewer_approves_in_the_browser_and_audits_what_happened(
    browser: Any, plane: dict[str, Any], tmp_path: Path, clock: ManualClock
) -> None:
    staging, http = plane["staging"], plane["http"]
    login = browser.new_page(base_url=plane["base"])
    login.goto("/ui/login")
    login.screenshot(path=str(_shot_dir() / "login-desktop.png"), full_page=True)
    login.set_viewport_size({"width": 390, "height": 844})
    login.screenshot(path=str(_shot_dir() / "login-phone.png"), full_page=True)
    login.close()

    bob = Person(browser, plane["base"], plane["tokens"]["bob"])
    bob.shoot("overview")
    bob.go("/ui/approvals")
    card = bob.page.locator(f"#approval-{staging['approval_id']}")
    assert "alice" in card.inner_text() and "deploy bankchurn@sha256:" in card.inner_text()
    bob.shoot("approvals")
    card.locator("a").first.click()
    bob.page.wait_for_url(f"**/ui/approvals/{staging['approval_id']}")
    assert bob.page.locator("button.approve").is_visible()
    bob.shoot("approval")

    # A tampered CSRF token is refused by the server, and nothing is voted.
    bob.page.eval_on_selector("#vote input[name=csrf_token]", "e => e.value = 'forged'")
    bob.page.click("button.approve")
    assert "CSRF" in bob.page.locator("main").inner_text()
    bob.shoot("error-csrf")
    assert (
        http.get(f"/v1/approvals/{staging['approval_id']}", headers=plane["admin"]).json()["votes"]
        == []
    )

    bob.go(f"/ui/approvals/{staging['approval_id']}")
    bob.page.fill("#comment", "ship it")
    bob.page.click("button.approve")
    bob.page.wait_for_url(f"**/ui/approvals/{staging['approval_id']}")
    assert "approve by bob" in bob.page.locator("main").inner_text()

    settled(http, plane["admin"], {"id": staging["id"], "status": "approved"})
    bob.go(f"/ui/deployments/{staging['id']}")
    assert "is live and healthy in staging" in bob.page.locator("main").inner_text()
    bob.shoot("deployment")
    bob.go("/ui/deployments")
    bob.page.wait_for_selector("#chart .uplot")  # the vendored chart library drew under the CSP
    bob.shoot("deployments")

    bob.go(f"/ui/audit?q={staging['approval_id']}")
    rows = bob.page.locator("table.audit tbody tr")
    assert rows.count() >= 2
    assert "approval.approve" in bob.page.locator("table.audit").inner_text()
    bob.page.wait_for_selector("#chain.ok")  # htmx loaded the chain status in place
    assert "chain verified" in bob.page.locator("#chain").inner_text()
    bob.shoot("audit")
    with bob.page.expect_download() as download:
        bob.page.click("text=Export this view as JSONL")
    saved = tmp_path / "export.jsonl"
    download.value.save_as(saved)
    lines = [json.loads(line) for line in saved.read_text().splitlines()]
    assert {"approval.request", "approval.approve"} <= {line["operation"] for line in lines}
    assert all(staging["approval_id"] in json.dumps(line) for line in lines)
    bob.page.locator("table.audit tbody tr a").first.click()
    assert re.search(r"[0-9a-f]{64}", bob.page.locator("main").inner_text())
    bob.shoot("record")

    for path, name in (("/ui/runs", "runs"), ("/ui/incidents", "incidents")):
        bob.go(path)
        bob.shoot(name)
    bob.go("/ui/audit?since=not-a-date")
    assert "not a date" in bob.page.locator("main").inner_text()
    bob.shoot("error-bad-date")
    _dora_counts_the_promotion(bob, plane, clock, tmp_path)
    assert bob.errors == [], bob.errors  # no script error, no CSP violation on any page


def test_a_viewer_sees_no_approve_button_and_a_forged_vote_is_refused(
    browser: Any, plane: dict[str, Any]
) -> None:
    staging, http = plane["staging"], plane["http"]
    vera = Person(browser, plane["base"], plane["tokens"]["vera"])
    vera.go(f"/ui/approvals/{staging['approval_id']}")
    assert vera.page.locator("button.approve").count() == 0
    assert "you lack the approver role" in vera.page.locator("main").inner_text()
    vera.shoot("approval-viewer")
    csrf = vera.page.locator("input[name=csrf_token]").first.input_value()  # the logout form's
    forged = vera.page.request.post(
        f"/ui/approvals/{staging['approval_id']}/approve",
        form={"csrf_token": csrf, "comment": "forged"},
        max_redirects=0,
    )
    assert forged.status == 403 and "approver" in forged.text()
    missing = vera.page.request.post(
        f"/ui/approvals/{staging['approval_id']}/approve", form={"comment": "no token"}
    )
    assert missing.status == 403 and "CSRF" in missing.text()
    refused = http.get(
        "/v1/audit", params={"actor": "vera", "result": "refused"}, headers=plane["admin"]
    ).json()["data"]
    assert [r["outputs"]["status"] for r in refused] == [403, 403]
    state = http.get(f"/v1/approvals/{staging['approval_id']}", headers=plane["admin"]).json()
    assert state["status"] == "pending" and state["votes"] == []
    assert vera.errors == []


def _dora_counts_the_promotion(
    bob: Person, plane: dict[str, Any], clock: ManualClock, tmp_path: Path
) -> None:
    """Journey 6: staging counts for nothing in DORA; once the release soaked and two humans let
    it into production, the DORA page counts the deployment (cards, weekly table, chart, CSV)."""
    http, tokens = plane["http"], plane["tokens"]
    bob.go("/ui/dora?window=7")
    main = bob.page.locator("main")
    assert "nothing to measure yet" in main.inner_text()
    assert "0 / 7" in bob.page.locator("#key-deployment_frequency").inner_text()
    bob.shoot("dora-empty")

    clock.advance(timedelta(minutes=16))  # staging soaked (15 min healthy)
    agent = {"Authorization": f"Bearer {tokens['claude-code']}"}
    r = http.post("/v1/deployments", json=deploy_body("production"), headers=agent)
    assert r.status_code == 202 and r.json()["required_approvals"] == 2, r.text
    prod = r.json()
    for name in ("alice", "bob"):
        vote = http.post(f"/v1/approvals/{prod['approval_id']}/approve", json={"comment": "ok"},
                         headers={"Authorization": f"Bearer {tokens[name]}"})  # fmt: skip
        assert vote.status_code in (200, 202), vote.text
    assert settled(http, plane["admin"], {"id": prod["id"], "status": "approved"})["status"] == (
        "succeeded"
    )
    clock.advance(timedelta(minutes=1))  # a window ends at now, exclusive

    bob.page.select_option("select[name=window]", "7")
    bob.page.click("form.filters button[type=submit]")  # the plain GET form
    bob.page.wait_for_url("**/ui/dora?window=7**")
    frequency = bob.page.locator("#key-deployment_frequency").inner_text()
    assert "0.14/day" in frequency and "1 / 7" in frequency and "HIGH" in frequency.upper()
    assert "nothing to measure yet" not in main.inner_text()
    weekly = bob.page.eval_on_selector_all(  # the no-JS table (folded in a <details>)
        "#dora-weekly tbody tr", "trs => trs.map(tr => [...tr.cells].map(c => c.textContent))"
    )
    assert [(w[2], w[3]) for w in weekly if w[2] != "0"] == [("1", "1")], weekly
    assert "bankchurn" in bob.page.locator("#by-service").inner_text()
    bob.page.wait_for_selector("#chart-deploys .uplot")  # drawn from the JSON block, CSP intact
    bob.shoot("dora")
    with bob.page.expect_download() as download:
        bob.page.click("text=Export CSV")
    saved = tmp_path / "dora.csv"
    download.value.save_as(saved)
    rows = list(csv.DictReader(saved.read_text().splitlines()))
    overall = next(
        r for r in rows if r["slice"] == "overall" and r["key"] == "deployment_frequency"
    )
    assert overall["numerator"] == "1.0" and overall["band"] == "high"
    agent_row = next(
        r for r in rows
        if (r["slice"], r["name"], r["key"]) == ("requester", "agent", "deployment_frequency")
    )  # fmt: skip
    assert agent_row["numerator"] == "1.0"


def _shot_dir() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
