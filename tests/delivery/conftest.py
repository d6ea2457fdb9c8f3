"""A plane with an in-memory workload backend, and request builders for delivery tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from factories import audit, signed
from fastapi.testclient import TestClient

DIGEST_A = "ab" * 32
DIGEST_B = "cd" * 32


def release(digest: str = DIGEST_A, service: str = "bankchurn") -> str:
    """A pinned release reference."""
    return f"{service}@sha256:{digest}"


def audit_for(ref: str, service: str = "bankchurn", **overrides: Any) -> dict[str, Any]:
    """A passed security audit of exactly this release, signed by the trusted test CI key."""
    at = datetime(2026, 11, 25, 9, 0, tzinfo=UTC).isoformat()
    return signed(audit(service=service, release=ref, created_at=at, **overrides))


def deploy_body(env: str, digest: str = DIGEST_A, **overrides: Any) -> dict[str, Any]:
    """A valid deployment request for bankchurn in an environment."""
    ref = release(digest)
    body: dict[str, Any] = {
        "service": "bankchurn",
        "environment": env,
        "release": ref,
        "commit_sha": "a1b2c3d",
    }
    if env != "dev":
        body["security_audit"] = audit_for(ref)
    if env == "production":
        body["release_tag"] = "v1.0.0"
    body.update(overrides)
    return body


@pytest.fixture
def people(client: TestClient, token_for) -> dict[str, dict[str, str]]:
    """An agent that ships, two human approvers, and a CI bot."""
    return {
        "agent": token_for(name="claude-code", kind="agent", roles=("operator",)),
        "alice": token_for(name="alice", kind="human", roles=("approver", "operator")),
        "bob": token_for(name="bob", kind="human", roles=("approver",)),
        "ci": token_for(name="ci-bot", kind="ci", roles=("operator", "approver")),
    }
