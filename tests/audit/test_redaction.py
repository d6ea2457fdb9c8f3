"""Secrets never reach the audit log in clear; only sha256 prefixes do."""

from __future__ import annotations

from fastapi.testclient import TestClient

from controlplane.audit.redact import fingerprint, redact

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
GH_TOKEN = "ghp_" + "a1B2c3D4e5" * 4
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"


def test_patterns_and_secret_field_names_are_masked() -> None:
    value = {
        "note": f"leaked {AWS_KEY} and {GH_TOKEN} in ci logs",
        "password": "hunter2hunter2",
        "db": {"api_key": "k-123456", "token_count": 7},
        "pem": PEM,
        "files": ["ok.txt"],
    }
    out = redact(value)
    text = str(out)
    for secret in (AWS_KEY, GH_TOKEN, "hunter2hunter2", "k-123456", "MIIEowIBAAKCAQEA"):
        assert secret not in text
    assert f"sha256:{fingerprint(AWS_KEY)}" in out["note"]
    assert out["db"]["token_count"] == 7
    assert out["files"] == ["ok.txt"]


def test_decision_context_is_redacted_before_it_is_recorded(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    body = {
        "operation": "deploy",
        "environment": "dev",
        "context": {"github_token": GH_TOKEN, "comment": f"key {AWS_KEY}"},
    }
    assert client.post("/v1/decisions", json=body, headers=admin_headers).status_code == 200
    export = client.get("/v1/audit/export", headers=admin_headers).text
    assert GH_TOKEN not in export and AWS_KEY not in export
    assert "REDACTED" in export
    assert client.get("/v1/audit/verify", headers=admin_headers).json()["ok"] is True
