"""Nothing in clear anywhere: secrets planted in every free-text field of every write route are
redacted on the way in, so no response, list, export, audit record or log line shows one."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from .conftest import approve

SECRETS = {
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "github": "ghp_" + "A1b2C3d4E5f6G7h8I9j0" * 2,
    "slack": "xoxb-1234567890-abcdefghijklmnop",
    "plane": "cpt_" + "Zx9" * 12,
    "bearer": "Bearer abcdefghijklmnopqrstuvwxyz012345",
    "pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----",
}


def _text(kind: str) -> str:
    """A sentence with one secret in it, as a careless person writes."""
    return f"see {SECRETS[kind]} for details"


def _every_write(client: TestClient, people: dict[str, dict[str, str]], kind: str) -> list[Any]:
    """Call each write route once with the secret in each of its free-text fields."""
    alice, bob, agent = people["alice"], people["bob"], people["agent"]
    text = _text(kind)
    answers = []

    def call(method: str, path: str, who: dict[str, str], **kw: Any) -> Any:
        r = client.request(method, path, headers=who, **kw)
        answers.append(r)
        return r

    call("POST", "/v1/decisions", agent, json={
        "operation": "deploy", "environment": "dev", "context": {"note": text, "nested": [text]},
    })  # fmt: skip
    call("PUT", "/v1/signals/off_hours", alice, json={"ttl": "5m", "reason": text})
    suppress = call(
        "PUT", "/v1/signals/drift_severe", alice,
        json={"state": "inactive", "ttl": "5m", "reason": text, "environment": "dev"},
    ).json()  # fmt: skip
    call("POST", f"/v1/approvals/{suppress['approval_id']}/reject", bob, json={"comment": text})
    incident = call(
        "POST", "/v1/incidents", alice, json={"severity": "P3", "title": text, "environment": "dev"}
    ).json()
    call("POST", f"/v1/incidents/{incident['id']}/resolve", alice, json={"resolution": text})
    call("POST", "/v1/drift-reports", agent, json={
        "service": "bankchurn", "window_start": "2026-11-24T00:00:00Z",
        "window_end": "2026-11-25T00:00:00Z", "retrain_recommendation": "none",
        "features": [{"name": text[:120], "psi": 0.01, "threshold": 0.2}],
    })  # fmt: skip
    baseline = call(
        "POST", "/v1/drift-baselines", agent, json={"service": "bankchurn", "reason": text}
    )
    approve(client, bob, baseline.json()["approval_id"], comment=text)
    call("POST", "/v1/deployments", agent, json={
        "service": "bankchurn", "environment": "dev", "release": "bankchurn:dev", "reason": text,
    })  # fmt: skip
    call("POST", "/v1/deployments", agent, json={
        "service": "bankchurn", "environment": "dev", "release": SECRETS[kind],
    })  # an invalid release that quotes the input back  # fmt: skip
    one_word = " " not in SECRETS[kind] and "\n" not in SECRETS[kind]
    if one_word:  # an identity name or a path segment that is itself a secret
        call("POST", "/v1/tokens", people["admin"], json={"name": SECRETS[kind]})
        call("POST", f"/v1/approvals/{SECRETS[kind]}/approve", bob, json={"comment": "x"})
    token = call("POST", "/v1/tokens", people["admin"], json={"name": "temp-bot"}).json()
    call("POST", f"/v1/tokens/{token['token_id']}/revoke", people["admin"], json={"reason": text})
    call("POST", "/v1/identities/temp-bot/disable", people["admin"], json={"reason": text})
    return answers


READS = (
    "/v1/approvals", "/v1/signals", "/v1/incidents", "/v1/actions", "/v1/deployments",
    "/v1/audit?limit=1000", "/v1/audit/export",
)  # fmt: skip


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_planted_secrets_appear_in_no_response_record_export_or_log(
    client: TestClient, people, admin_headers, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    people = {**people, "admin": admin_headers}
    secret_parts = [p for p in SECRETS[kind].split() if len(p) >= 16]  # what identifies it
    with caplog.at_level(logging.DEBUG):
        answers = _every_write(client, people, kind)
        reads = [client.get(path, headers=admin_headers) for path in READS]
    assert len(answers) >= 13
    assert all(r.status_code < 500 for r in answers), [
        r.text for r in answers if r.status_code >= 500
    ]
    for r in [*answers, *reads]:
        body = r.text
        if r.request.url.path == "/v1/tokens" and r.status_code == 201:
            body = body.replace(r.json()["token"], "")  # the one secret shown on purpose, once
        for part in secret_parts:
            assert part not in body, (
                f"{r.request.method} {r.request.url.path} shows it: {body[:300]}"
            )
    assert "[REDACTED:" in reads[-1].text  # the export shows where something was masked
    plane_logs = [r for r in caplog.records if r.name.startswith(("controlplane", "uvicorn"))]
    for record in plane_logs:  # (httpx's lines are the test client's, not the plane's)
        for part in secret_parts:
            assert part not in record.getMessage(), record.getMessage()
