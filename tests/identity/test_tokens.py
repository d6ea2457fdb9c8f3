"""Tokens end exactly when they should: at expiry, on revocation, when their identity is off."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from controlplane.adapters.workload.fake import FakeWorkloadBackend
from controlplane.app import create_app
from controlplane.clock import ManualClock
from controlplane.config import Settings


def _issue(client: TestClient, admin: dict[str, str], **body: object) -> dict[str, object]:
    r = client.post("/v1/tokens", json={"name": "bot", "kind": "agent", **body}, headers=admin)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _as(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_expired_token_is_refused_at_once_even_when_cached(
    client: TestClient, admin_headers, clock: ManualClock
) -> None:
    issued = _issue(client, admin_headers, ttl_hours=1)
    assert client.get("/v1/whoami", headers=_as(issued["token"])).status_code == 200  # cached now
    clock.advance(timedelta(hours=1))
    r = client.get("/v1/whoami", headers=_as(issued["token"]))
    assert r.status_code == 401 and r.json()["error"]["message"] == "token expired"


def test_a_revoked_token_is_refused_at_once_and_the_revocation_is_audited(
    client: TestClient, admin_headers
) -> None:
    issued = _issue(client, admin_headers)
    assert client.get("/v1/whoami", headers=_as(issued["token"])).status_code == 200
    r = client.post(
        f"/v1/tokens/{issued['token_id']}/revoke",
        json={"reason": "leaked in a CI log"},
        headers=admin_headers,
    )
    assert r.status_code == 200, r.text
    assert client.get("/v1/whoami", headers=_as(issued["token"])).status_code == 401
    records = client.get("/v1/audit?operation=token.revoke", headers=admin_headers).json()
    assert [x["result"] for x in records["data"]] == ["requested", "success"]
    assert issued["token"] not in str(records)
    listed = client.get("/v1/tokens", headers=admin_headers).json()
    assert next(t for t in listed if t["id"] == issued["token_id"])["revoked_at"] is not None
    again = client.post(
        f"/v1/tokens/{issued['token_id']}/revoke", json={"reason": "twice"}, headers=admin_headers
    )
    assert again.status_code == 409


def test_a_disabled_identity_is_refused_at_once_and_can_be_enabled(
    client: TestClient, admin_headers
) -> None:
    issued = _issue(client, admin_headers)
    assert client.get("/v1/whoami", headers=_as(issued["token"])).status_code == 200
    off = client.post(
        "/v1/identities/bot/disable", json={"reason": "offboarded"}, headers=admin_headers
    )
    assert off.status_code == 200 and off.json()["disabled"] is True
    assert client.get("/v1/whoami", headers=_as(issued["token"])).status_code == 401
    on = client.post("/v1/identities/bot/enable", json={"reason": "back"}, headers=admin_headers)
    assert on.status_code == 200
    assert client.get("/v1/whoami", headers=_as(issued["token"])).status_code == 200


def test_only_admins_revoke_and_disable(client: TestClient, admin_headers, token_for) -> None:
    issued = _issue(client, admin_headers)
    operator = token_for(name="olga", roles=("operator", "approver"))
    revoke = client.post(
        f"/v1/tokens/{issued['token_id']}/revoke", json={"reason": "x y z"}, headers=operator
    )
    disable = client.post("/v1/identities/bot/disable", json={"reason": "x y z"}, headers=operator)
    assert (revoke.status_code, disable.status_code) == (403, 403)


def test_an_agent_admin_granting_approver_rights_waits_for_two_humans(
    client: TestClient, admin_headers, token_for
) -> None:
    """The token is shown once, stored only as its hash, and works only after approval."""
    robot = token_for(name="robot-admin", kind="agent", roles=("admin",))
    r = client.post(
        "/v1/tokens",
        json={"name": "mallory", "kind": "human", "roles": ["approver"]},
        headers=robot,
    )
    assert r.status_code == 201, r.text
    issued = r.json()
    assert issued["status"] == "pending_approval" and issued["approval_id"]
    assert client.get("/v1/whoami", headers=_as(issued["token"])).status_code == 401
    humans = [token_for(name=n, roles=("approver",)) for n in ("ann", "ben")]
    for human in humans:
        vote = client.post(
            f"/v1/approvals/{issued['approval_id']}/approve", json={"comment": "ok"}, headers=human
        )
        assert vote.status_code == 200, vote.text
    assert client.get("/v1/whoami", headers=_as(issued["token"])).json()["name"] == "mallory"


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("CONTROLPLANE_TEST_DATABASE_URL"), reason="needs PostgreSQL")
def test_a_revocation_on_one_replica_is_refused_by_another_at_once(
    settings: Settings, clock: ManualClock
) -> None:
    """Two planes on one PostgreSQL: revoke on A, B stops accepting the token it had cached."""
    a = create_app(settings, clock=clock, workloads=FakeWorkloadBackend())
    b = create_app(settings, clock=clock, workloads=FakeWorkloadBackend())
    try:
        with TestClient(a) as ca, TestClient(b) as cb:
            admin = {"Authorization": f"Bearer {a.state.ctx.admin_token}"}
            issued = _issue(ca, admin)
            deadline = time.monotonic() + 10  # B's listener connects in the background
            while cb.get("/v1/whoami", headers=_as(issued["token"])).status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            for _ in range(3):  # cached by now
                assert cb.get("/v1/whoami", headers=_as(issued["token"])).status_code == 200
            revoked = ca.post(
                f"/v1/tokens/{issued['token_id']}/revoke", json={"reason": "leak"}, headers=admin
            )
            assert revoked.status_code == 200
            deadline = time.monotonic() + 5  # a NOTIFY is delivered in milliseconds
            while cb.get("/v1/whoami", headers=_as(issued["token"])).status_code != 401:
                assert time.monotonic() < deadline, "replica B still accepts a revoked token"
                time.sleep(0.02)
    finally:
        a.state.ctx.close()
        b.state.ctx.close()


def test_a_lookup_overtaken_by_a_revocation_is_not_cached() -> None:
    """A request read the token just before a revocation committed: it may not cache that."""
    from datetime import UTC, datetime

    from controlplane.identity.models import Principal
    from controlplane.identity.service import TokenCache

    cache = TokenCache()
    bob = Principal("1", "bob", "human", frozenset({"operator"}))
    generation = cache.generation  # the lookup starts
    cache.clear()  # the revocation commits
    cache.put("hash", bob, None, generation)  # the lookup ends with what it read before
    assert cache.get("hash", datetime.now(UTC)) is None
    cache.put("hash", bob, None, cache.generation)
    assert cache.get("hash", datetime.now(UTC)) == bob


def test_an_agent_admin_minting_a_humans_operator_token_waits_for_two_humans(
    client: TestClient, token_for
) -> None:
    """A machine never mints itself a human's powers (a human may suppress signals)."""
    robot = token_for(name="robot-admin", kind="agent", roles=("admin",))
    r = client.post(
        "/v1/tokens", json={"name": "bob", "kind": "human", "roles": ["operator"]}, headers=robot
    )
    assert r.status_code == 201 and r.json()["status"] == "pending_approval"
    assert client.get("/v1/whoami", headers=_as(r.json()["token"])).status_code == 401
    token_for(name="helper-bot", kind="agent", roles=("viewer",))
    off = client.post("/v1/identities/helper-bot/disable", json={"reason": "x y z"}, headers=robot)
    assert off.status_code == 202, "a machine disabling an identity waits for a human"


def test_an_admin_cannot_lock_itself_out(client: TestClient, admin_headers) -> None:
    """Disabling oneself or revoking the token in use is refused: a lone admin stays an admin."""
    off = client.post(
        "/v1/identities/admin/disable", json={"reason": "x y z"}, headers=admin_headers
    )
    assert off.status_code == 409, off.text
    [own] = [t for t in client.get("/v1/tokens", headers=admin_headers).json()]
    revoke = client.post(
        f"/v1/tokens/{own['id']}/revoke", json={"reason": "x y z"}, headers=admin_headers
    )
    assert revoke.status_code == 409, revoke.text
    assert "issue another" in revoke.json()["error"]["message"]
    assert client.get("/v1/whoami", headers=admin_headers).status_code == 200
