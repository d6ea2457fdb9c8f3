"""GET /v1/releases lists what can be deployed; the detail carries the SecurityAuditResult."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from controlplane.handoff import SecurityAuditResult
from controlplane.release import routes
from controlplane.release.models import ReleaseInfo

from .conftest import COMMIT


@pytest.fixture
def released(app: FastAPI, artifact: Path) -> ReleaseInfo:
    """The plane's router mounted (until app.py does it) and one bankchurn release built."""
    if not any(getattr(r, "path", "").startswith("/v1/releases") for r in app.routes):
        app.include_router(routes.router)
    return routes.get_registry(app.state.ctx.settings).build(
        "bankchurn", artifact, code_version=COMMIT
    )


def test_listing_needs_a_token(client: TestClient, released: ReleaseInfo) -> None:
    assert client.get("/v1/releases").status_code == 401


def test_viewers_see_deployable_releases(
    client: TestClient, released: ReleaseInfo, token_for: Callable[..., dict[str, str]]
) -> None:
    viewer = token_for(roles=("viewer",))
    body = client.get("/v1/releases", headers=viewer).json()
    assert body["count"] == 1 and body["unusable"] == []
    [row] = body["data"]
    assert row["ref"] == released.ref and row["service"] == "bankchurn"
    assert row["model_version"] == released.manifest.model_version
    assert row["audit_passed"] is True and 0.5 < row["metrics"]["roc_auc"] <= 1
    assert row["code_version"] == COMMIT and row["created_at"]
    for service, count in (("bankchurn", 1), ("nlpinsight", 0)):
        page = client.get("/v1/releases", params={"service": service}, headers=viewer).json()
        assert page["count"] == count


def test_the_detail_carries_the_security_audit(
    client: TestClient, released: ReleaseInfo, admin_headers: dict[str, str]
) -> None:
    response = client.get(f"/v1/releases/bankchurn/{released.digest}", headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    audit = SecurityAuditResult.model_validate(body["security_audit"])
    assert audit.release == released.release and audit.passed
    assert {f["path"] for f in body["files"]} >= {"artifact/model.joblib", "sbom.cdx.json"}
    assert body["public_key"] == released.public_key
    prefixed = client.get(f"/v1/releases/bankchurn/sha256:{released.digest}", headers=admin_headers)
    assert prefixed.json()["ref"] == released.ref


def test_unknown_and_malformed_refs(
    client: TestClient, released: ReleaseInfo, admin_headers: dict[str, str]
) -> None:
    missing = client.get(f"/v1/releases/bankchurn/{'0' * 64}", headers=admin_headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["details"]["known"] == [released.ref]
    malformed = client.get("/v1/releases/bankchurn/xyz", headers=admin_headers)
    assert malformed.status_code == 422 and "64 lowercase hex" in malformed.text
    bad_service = client.get("/v1/releases", params={"service": "../x"}, headers=admin_headers)
    assert bad_service.status_code == 422


def test_a_tampered_release_is_listed_as_unusable_and_refused(
    client: TestClient, released: ReleaseInfo, admin_headers: dict[str, str]
) -> None:
    (released.artifact_dir / "model.joblib").write_bytes(b"not the model")
    body = client.get("/v1/releases", headers=admin_headers).json()
    assert body["count"] == 0
    assert body["unusable"][0]["digest"] == released.digest
    detail = client.get(f"/v1/releases/bankchurn/{released.digest}", headers=admin_headers)
    assert detail.status_code == 409
    assert detail.json()["error"]["code"] == "release_unusable"
