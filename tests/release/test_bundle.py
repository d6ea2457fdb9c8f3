"""A bundle is pinned by its manifest's sha256, rebuilds byte for byte, and refuses tampering."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from controlplane.errors import InvalidSpec, NotFound
from controlplane.handoff.release import Release
from controlplane.release import bundle
from controlplane.release.bundle import ReleaseUnusable
from controlplane.release.registry import ReleaseRegistry
from services.common import artifact as service_artifact

from .conftest import COMMIT, REPO


def test_the_ref_is_the_sha256_of_the_manifest(registry: ReleaseRegistry, artifact: Path) -> None:
    info = registry.build("bankchurn", artifact, code_version=COMMIT)
    manifest_bytes = (info.path / "manifest.json").read_bytes()
    assert info.ref == f"bankchurn@sha256:{hashlib.sha256(manifest_bytes).hexdigest()}"
    assert info.path == registry.root / "bankchurn" / info.digest
    manifest = json.loads(manifest_bytes)
    assert manifest["code_version"] == COMMIT
    assert (
        manifest["model_sha256"]
        == json.loads((artifact / "manifest.json").read_text())["model_sha256"]
    )
    assert {f["path"] for f in manifest["files"]} == {
        "artifact/manifest.json",
        "artifact/model.joblib",
        "sbom.cdx.json",
    }


def test_the_service_loads_the_bundled_artifact(registry: ReleaseRegistry, artifact: Path) -> None:
    """What artifact_dir returns is exactly what `python -m services.bankchurn --artifact` runs."""
    info = registry.build("bankchurn", artifact, code_version=COMMIT)
    model, manifest = service_artifact.load(registry.artifact_dir(info.ref), service="bankchurn")
    assert manifest.training.model_version == info.manifest.model_version
    assert model is not None


def test_rebuilding_the_same_artifact_gives_the_same_digest(
    registry: ReleaseRegistry, artifact: Path, tmp_path: Path
) -> None:
    first = registry.build("bankchurn", artifact, code_version=COMMIT)
    again = registry.build("bankchurn", artifact, code_version=COMMIT)
    elsewhere = ReleaseRegistry(tmp_path / "other-state", repo_root=REPO).build(
        "bankchurn", artifact, code_version=COMMIT
    )
    assert first.ref == again.ref == elsewhere.ref  # the digest does not depend on the key
    assert first.public_key != elsewhere.public_key
    assert [p.name for p in (registry.root / "bankchurn").iterdir()] == [first.digest]


def test_another_commit_is_another_release(registry: ReleaseRegistry, artifact: Path) -> None:
    one = registry.build("bankchurn", artifact, code_version=COMMIT)
    two = registry.build("bankchurn", artifact, code_version="f" * 40)
    assert one.digest != two.digest
    assert [r.ref for r in registry.list("bankchurn")] and len(registry.list()) == 2


def test_code_version_is_the_checkout_commit_or_unknown(tmp_path: Path) -> None:
    commit = bundle.code_version(REPO)
    assert len(commit) == 40 and int(commit, 16) >= 0
    assert bundle.code_version(tmp_path) == "unknown"


def _tamper(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_tampered_model_makes_the_release_unusable(
    registry: ReleaseRegistry, artifact: Path
) -> None:
    info = registry.build("bankchurn", artifact, code_version=COMMIT)
    _tamper(info.artifact_dir / "model.joblib")
    with pytest.raises(ReleaseUnusable, match=r"artifact/model\.joblib does not match its sha256"):
        registry.get(info.ref)
    with pytest.raises(ReleaseUnusable):
        registry.artifact_dir(info.release)
    assert registry.list("bankchurn") == []
    [bad] = registry.unusable("bankchurn")
    assert bad.digest == info.digest and "model.joblib" in bad.problem


def test_a_rebuild_repairs_a_tampered_bundle_and_keeps_the_evidence(
    registry: ReleaseRegistry, artifact: Path
) -> None:
    info = registry.build("bankchurn", artifact, code_version=COMMIT)
    _tamper(info.artifact_dir / "model.joblib")
    repaired = registry.build("bankchurn", artifact, code_version=COMMIT)
    assert repaired.ref == info.ref and registry.get(info.ref).audit.passed
    assert len(list((registry.root / ".quarantine").iterdir())) == 1


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda p: (p / "artifact" / "extra.py").write_text("print(1)"), "not in the manifest"),
        (lambda p: (p / "sbom.cdx.json").unlink(), "sbom.cdx.json is missing"),
        (lambda p: _tamper(p / "manifest.json"), "hashes to"),
        (lambda p: _edit_audit(p), "security_audit.json was changed after signing"),
        (lambda p: (p / "signature.json").unlink(), "cannot read"),
    ],
    ids=["added-file", "removed-file", "edited-manifest", "edited-audit", "no-signature"],
)
def test_any_change_to_a_bundle_is_refused(
    registry: ReleaseRegistry, artifact: Path, edit: Callable[[Path], object], problem: str
) -> None:
    info = registry.build("bankchurn", artifact, code_version=COMMIT)
    edit(info.path)
    with pytest.raises(ReleaseUnusable) as caught:
        registry.get(info.ref)
    assert problem in caught.value.message
    assert "opsctl release build" in caught.value.diagnostics()


def _edit_audit(path: Path) -> None:
    """Flip a failed audit's verdict by hand: the signature over the audit must catch it."""
    audit = json.loads((path / "security_audit.json").read_text())
    audit["findings"] = ["all good, trust me"]
    (path / "security_audit.json").write_text(json.dumps(audit))


def test_a_bundle_signed_with_another_key_is_refused(
    registry: ReleaseRegistry, artifact: Path, tmp_path: Path
) -> None:
    foreign = ReleaseRegistry(tmp_path / "foreign", repo_root=REPO)
    info = foreign.build("bankchurn", artifact, code_version=COMMIT)
    registry.build("bankchurn", artifact, code_version="f" * 40)  # creates this plane's key
    shutil.copytree(info.path, registry.root / "bankchurn" / info.digest)
    with pytest.raises(ReleaseUnusable, match="does not verify with this plane's release key"):
        registry.get(info.ref)


def test_an_unknown_ref_is_not_found_and_lists_the_known_ones(
    registry: ReleaseRegistry, artifact: Path
) -> None:
    info = registry.build("bankchurn", artifact, code_version=COMMIT)
    with pytest.raises(NotFound) as caught:
        registry.get(Release("bankchurn", "0" * 64))
    assert caught.value.details["known"] == [info.ref]
    with pytest.raises(InvalidSpec, match="not pinned"):
        registry.get("bankchurn")
    with pytest.raises(InvalidSpec, match="not a service name"):
        registry.list("../etc")


def test_an_artifact_for_another_service_or_with_a_bad_model_is_refused(
    registry: ReleaseRegistry, artifact: Path, tmp_path: Path
) -> None:
    with pytest.raises(InvalidSpec, match="is for 'bankchurn', not 'nlpinsight'"):
        registry.build("nlpinsight", artifact)
    _tamper(artifact / "model.joblib")
    with pytest.raises(InvalidSpec, match="does not match the sha256"):
        registry.build("bankchurn", artifact)
    with pytest.raises(InvalidSpec, match="no trained artifact"):
        registry.build("bankchurn", tmp_path / "nowhere")
    assert not any((registry.root / "bankchurn").iterdir())  # no half-built leftovers
