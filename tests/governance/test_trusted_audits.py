"""The plane trusts only security audits it can verify: the registry's own, or CI-signed ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from factories import audit as passed_audit
from factories import settled, signed
from fastapi.testclient import TestClient

from controlplane.config import Settings
from controlplane.release.registry import ReleaseRegistry

REPO = Path(__file__).resolve().parents[2]
FAKE_AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
IMAGE = "ghcr.io/acme/bankchurn@sha256:" + "ef" * 32


def _leaky_bundle(settings: Settings, trained: Path, tmp_path: Path) -> dict[str, Any]:
    """A real bundle whose own signed audit failed: a secret was left in it."""
    import shutil

    artifact = Path(shutil.copytree(trained, tmp_path / "leaky"))
    (artifact / "notes.txt").write_text(f"aws_access_key_id = {FAKE_AWS_KEY}\n")
    info = ReleaseRegistry(settings.state_dir, repo_root=REPO).build("bankchurn", artifact)
    assert info.audit.passed is False and info.audit.secret_findings == 1
    return {"ref": info.ref, "audit": info.audit.model_dump(mode="json")}


def _failed_gates(r: Any) -> dict[str, str]:
    assert r.status_code == 409, r.text
    return {g["name"]: g["reason"] for g in r.json()["error"]["details"]["failed_gates"]}


def _ask(client: TestClient, who: dict[str, str], env: str, ref: str, audit: Any) -> Any:
    body: dict[str, Any] = {"service": "bankchurn", "environment": env, "release": ref}
    if audit is not None:
        body["security_audit"] = audit
    if env == "production":
        body["release_tag"] = "v1.0.0"
    return client.post("/v1/deployments", json=body, headers=who)


def test_a_forged_audit_of_a_leaky_bundle_is_refused_in_staging_and_production(
    client: TestClient, people, settings: Settings, trained: Path, tmp_path: Path
) -> None:
    bundle = _leaky_bundle(settings, trained, tmp_path)
    dev = _ask(client, people["agent"], "dev", bundle["ref"], None)
    assert dev.status_code == 202 and settled(client, people["agent"], dev.json())["status"] == (
        "succeeded"
    )
    forged = {**bundle["audit"], "secret_findings": 0, "passed": True}
    for env in ("staging", "production"):
        failed = _failed_gates(_ask(client, people["agent"], env, bundle["ref"], forged))
        assert "differs from the release's own signed audit" in failed["audit_trusted"]
        assert "1 secret findings" in failed["security_audit"]  # judged on the registry's copy
    honest = _failed_gates(_ask(client, people["agent"], "staging", bundle["ref"], bundle["audit"]))
    assert "audit_trusted" not in honest and "1 secret findings" in honest["security_audit"]


def test_an_image_audit_must_be_signed_by_a_trusted_ci_key(client: TestClient, people) -> None:
    client.post(
        "/v1/deployments",
        json={"service": "bankchurn", "environment": "dev", "release": IMAGE},
        headers=people["agent"],
    )
    audit = passed_audit(release=IMAGE)
    unsigned = _failed_gates(_ask(client, people["agent"], "staging", IMAGE, audit))
    assert "not signed by a CI key the plane trusts" in unsigned["audit_trusted"]

    stranger = Ed25519PrivateKey.generate()
    unknown = _failed_gates(
        _ask(client, people["agent"], "staging", IMAGE, signed(audit, stranger))
    )
    assert "unknown key" in unknown["audit_trusted"]

    edited = {**signed(audit), "high_findings": 0, "findings": ["added after signing"]}
    broken = _failed_gates(_ask(client, people["agent"], "staging", IMAGE, edited))
    assert "does not verify" in broken["audit_trusted"]

    good = _ask(client, people["agent"], "staging", IMAGE, signed(audit))
    assert good.status_code == 202, good.text
    gates = {g["name"]: g for g in good.json()["gates"]}
    assert gates["audit_trusted"]["passed"] and "trusted CI key" in gates["audit_trusted"]["reason"]


def test_settings_refuse_a_trusted_key_that_is_not_ed25519() -> None:
    import pytest

    with pytest.raises(ValueError, match="ed25519"):
        Settings(trusted_ci_keys="not-a-key")


def test_another_services_release_is_refused_before_anything_starts(
    client: TestClient, people
) -> None:
    body = {
        "service": "bankchurn",
        "environment": "dev",
        "release": "chicagotaxi@sha256:" + "a" * 64,
    }
    r = client.post("/v1/deployments", json=body, headers=people["agent"])
    assert r.status_code == 422
    assert "not a release of bankchurn" in r.json()["error"]["message"]
    assert client.get("/v1/deployments", headers=people["agent"]).json()["count"] == 0
