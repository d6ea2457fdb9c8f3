"""Re-verify a bundle before anyone uses it: digest, every file hash, both signatures, the audit."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import ValidationError

from controlplane.audit.signing import Signer
from controlplane.handoff.models import SecurityAuditResult
from controlplane.handoff.release import Release
from controlplane.release.bundle import (
    OWN_FILES,
    ReleaseUnusable,
    audit_message,
    manifest_message,
    sha256_file,
)
from controlplane.release.models import (
    AUDIT_FILE,
    MANIFEST_FILE,
    SIGNATURE_FILE,
    BundleManifest,
    ReleaseInfo,
    Signature,
)


def _refuse(release: str, problem: str) -> ReleaseUnusable:
    return ReleaseUnusable(
        f"release {release} is unusable: {problem}",
        {"release": release, "problem": problem, "fix": "rebuild it with `opsctl release build`"},
    )


def load(path: Path, signer: Signer | None) -> ReleaseInfo:
    """Read and fully verify the bundle at `<releases>/<service>/<digest>`; refuse any mismatch."""
    try:
        release = Release(path.parent.name, path.name)
    except ValueError as exc:
        raise ReleaseUnusable(f"{path} is not a release folder: {exc}") from None
    ref = str(release)
    try:
        manifest = _manifest(path, release)
        _files(path, manifest)
        public_key, audit = _signed_audit(path, ref, signer)
    except OSError as exc:
        raise _refuse(ref, f"cannot read {exc.filename}: {exc.strerror}") from None
    except (ValidationError, ValueError) as exc:
        raise _refuse(ref, f"malformed metadata: {exc}") from None
    if audit.release != release or audit.service != manifest.service:
        raise _refuse(ref, f"{AUDIT_FILE} is for {audit.release}, not this release")
    return ReleaseInfo(
        release=release, path=path, manifest=manifest, audit=audit, public_key=public_key
    )


def _manifest(path: Path, release: Release) -> BundleManifest:
    data = (path / MANIFEST_FILE).read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != release.digest:
        raise _refuse(str(release), f"{MANIFEST_FILE} hashes to {actual}, not the release digest")
    manifest = BundleManifest.model_validate_json(data)
    if manifest.service != release.name:
        raise _refuse(str(release), f"the manifest is for {manifest.service!r}")
    return manifest


def _files(path: Path, manifest: BundleManifest) -> None:
    """Every listed file is present with its size and sha256, and nothing else was added."""
    ref = f"{manifest.service}@sha256:{path.name}"
    listed = {f.path: f for f in manifest.files}
    model = listed.get(manifest.model_file)
    if model is None or model.sha256 != manifest.model_sha256:
        raise _refuse(ref, f"the manifest does not pin its model {manifest.model_file}")
    present = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}
    extra = sorted(present - set(listed) - OWN_FILES)
    if extra:
        raise _refuse(ref, f"files not in the manifest: {', '.join(extra)}")
    for rel, entry in listed.items():
        file = path / rel
        if file.is_symlink() or not file.is_file():
            raise _refuse(ref, f"{rel} is missing")
        if file.stat().st_size != entry.size or sha256_file(file) != entry.sha256:
            raise _refuse(ref, f"{rel} does not match its sha256 in the manifest (tampered?)")


def _signed_audit(path: Path, ref: str, signer: Signer | None) -> tuple[str, SecurityAuditResult]:
    """Check both signatures with the trusted release key, then parse the audit they cover."""
    if signer is None:
        raise _refuse(ref, "the release signing key is missing from the state folder")
    sig = Signature.model_validate_json((path / SIGNATURE_FILE).read_bytes())
    if sig.ref != ref:
        raise _refuse(ref, f"{SIGNATURE_FILE} is for {sig.ref}")
    if not signer.verify(manifest_message(ref), sig.manifest_signature):
        raise _refuse(ref, "the signature does not verify with this plane's release key")
    audit_bytes = (path / AUDIT_FILE).read_bytes()
    audit_sha = hashlib.sha256(audit_bytes).hexdigest()
    if audit_sha != sig.audit_sha256 or not signer.verify(
        audit_message(ref, audit_sha), sig.audit_signature
    ):
        raise _refuse(ref, f"{AUDIT_FILE} was changed after signing")
    return signer.public_key, SecurityAuditResult.model_validate_json(audit_bytes)
