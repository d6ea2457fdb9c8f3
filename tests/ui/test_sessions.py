"""Dashboard login: a token becomes a server-side session; CSRF on every form; fail closed."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from controlplane.clock import ManualClock
from tests.ui.conftest import audit_records, log_in, login_form_csrf, token_of


def test_login_sets_an_httponly_strict_cookie_and_stores_only_its_hash(
    app: FastAPI, people, client: TestClient
) -> None:
    fresh = TestClient(app)
    csrf = login_form_csrf(fresh)
    r = fresh.post(
        "/ui/login",
        data={"token": token_of(people["alice"]), "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/ui/"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("cp_session="))
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags and "samesite=strict" in flags and "path=/ui" in flags
    assert "secure" not in flags  # plain http on loopback; https gets Secure
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    with app.state.ctx.engine.connect() as conn:
        stored = [row[0] for row in conn.execute(text("SELECT id_hash FROM ui_session"))]
    assert stored == [hashlib.sha256(value.encode()).hexdigest()]
    assert value not in stored
    assert "alice" in fresh.get("/ui/").text


def test_a_bad_token_is_refused_without_a_hint_and_recorded(
    app: FastAPI, client: TestClient, people, admin_headers
) -> None:
    fresh = TestClient(app)
    answers = []
    for token in ("cpt_not-a-real-token", token_of(people["alice"]) + "x", ""):
        csrf = login_form_csrf(fresh)
        r = fresh.post("/ui/login", data={"token": token, "csrf_token": csrf})
        answers.append(r)
    assert [r.status_code for r in answers] == [401, 401, 401]
    messages = {r.text.split('role="alert">')[1].split("<")[0] for r in answers}
    assert messages == {"that token was not accepted; check it and try again"}  # no hint
    assert "cp_session" not in fresh.cookies
    refused = audit_records(client, admin_headers, operation="ui.login", result="refused")
    assert len(refused) == 3 and {r["agent"] for r in refused} == {"anonymous"}
    assert all("cpt_not-a-real-token" not in str(r) for r in refused)


def test_login_without_its_csrf_twin_is_refused(app: FastAPI, people) -> None:
    fresh = TestClient(app)
    login_form_csrf(fresh)
    r = fresh.post("/ui/login", data={"token": token_of(people["alice"]), "csrf_token": "forged"})
    assert r.status_code == 403 and "CSRF" in r.text
    assert "cp_session" not in fresh.cookies


def test_logout_deletes_the_session(app: FastAPI, people) -> None:
    ui = log_in(app, token_of(people["alice"]))
    cookie = ui.client.cookies.get("cp_session")
    r = ui.post("/ui/logout")
    assert r.status_code == 303 and r.headers["location"] == "/ui/login"
    with app.state.ctx.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ui_session")).scalar() == 0
    replay = TestClient(app)
    replay.cookies.set("cp_session", cookie, path="/ui")
    page = replay.get("/ui/approvals")
    assert page.status_code == 401 and "expired or was ended" in page.text
    assert "Log in" in page.text


def test_an_expired_session_shows_a_401_page(app: FastAPI, people, clock: ManualClock) -> None:
    ui = log_in(app, token_of(people["alice"]))
    clock.advance(timedelta(hours=8, seconds=1))
    page = ui.get("/ui/deployments")
    assert page.status_code == 401 and "expired" in page.text
    assert "Traceback" not in page.text


def test_revoking_the_token_ends_its_dashboard_sessions(
    app: FastAPI, client: TestClient, people, admin_headers
) -> None:
    ui = log_in(app, token_of(people["alice"]))
    tokens = client.get("/v1/tokens", headers=admin_headers).json()
    alice = next(t for t in tokens if t["identity"] == "alice")
    r = client.post(
        f"/v1/tokens/{alice['id']}/revoke", json={"reason": "left"}, headers=admin_headers
    )
    assert r.status_code in (200, 202), r.text
    assert ui.get("/ui/").status_code == 401


def test_a_post_without_a_session_is_401_and_with_a_wrong_csrf_is_403(
    app: FastAPI, client: TestClient, people, admin_headers, pending_staging
) -> None:
    approval = pending_staging["approval_id"]
    anonymous = TestClient(app)
    r = anonymous.post(f"/ui/approvals/{approval}/approve", data={"csrf_token": "x"})
    assert r.status_code == 401
    bob = log_in(app, token_of(people["bob"]))
    for form in ({"csrf_token": ""}, {"csrf_token": "0" * 64}, {}):
        r = bob.client.post(f"/ui/approvals/{approval}/approve", data=form)
        assert r.status_code == 403 and "CSRF" in r.text, r.text
    refused = audit_records(client, admin_headers, actor="bob", result="refused")
    assert len(refused) == 3
    assert refused[0]["operation"] == "POST /ui/approvals/{approval_id}/approve"
    assert refused[0]["outputs"]["status"] == 403
    still = client.get(f"/v1/approvals/{approval}", headers=admin_headers).json()
    assert still["status"] == "pending" and still["votes"] == []


def test_an_htmx_refresh_after_the_session_ended_is_sent_to_the_login_page(app: FastAPI) -> None:
    stale = TestClient(app)
    stale.cookies.set("cp_session", "gone", path="/ui")
    r = stale.get("/ui/approvals", headers={"HX-Request": "true"})
    assert r.status_code == 401 and r.headers["HX-Redirect"] == "/ui/login"


def test_over_https_the_session_cookie_is_secure(app: FastAPI, people) -> None:
    fresh = TestClient(app, base_url="https://testserver")
    csrf = login_form_csrf(fresh)
    r = fresh.post(
        "/ui/login",
        data={"token": token_of(people["alice"]), "csrf_token": csrf},
        follow_redirects=False,
    )
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("cp_session="))
    assert "secure" in [part.strip().lower() for part in cookie.split(";")]
