"""Make and verify one bundle folder: copy, hash, SBOM, sign, audit; refuse any tampering.

Layout of `<state_dir>/releases/<service>/<digest>/`:
    manifest.json        canonical JSON of BundleManifest; sha256(manifest.json) == <digest>
    artifact/...         the trained artifact, verbatim (the service runs `--artifact` here)
    sbom.cdx.json        CycloneDX SBOM of the Python dependencies (listed in the manifest)
    security_audit.json  the SecurityAuditResult of the checks below
    signature.json       ed25519 over the ref, and over the audit file's sha256
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from controlplane.audit.signing import Signer
from controlplane.errors import Conflict, InvalidSpec
from controlplane.handoff.models import SecurityAuditResult
from controlplane.handoff.release import Release
from controlplane.release import checks, sbom
from controlplane.release.models import (
    ARTIFACT_DIR,
    AUDIT_FILE,
    MANIFEST_FILE,
    SBOM_FILE,
    SIGNATURE_FILE,
    BundleFile,
    BundleManifest,
    Signature,
    TrainedArtifact,
)

OWN_FILES = frozenset({MANIFEST_FILE, AUDIT_FILE, SIGNATURE_FILE})


class ReleaseUnusable(Conflict):
    """A bundle failed verification (tampered, incomplete or signed by another key)."""

    code = "release_unusable"


def sha256_file(path: Path) -> str:
    """Hash a file in chunks so large models are not held twice in memory."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_message(ref: str) -> str:
    """What the release signature signs (domain-separated from audit checkpoints)."""
    return f"controlplane-release:v1:{ref}"


def audit_message(ref: str, audit_sha256: str) -> str:
    """What the audit signature signs, so security_audit.json cannot be edited either."""
    return f"controlplane-release-audit:v1:{ref}:{audit_sha256}"


def code_version(repo_root: Path) -> str:
    """The git commit of the code that serves the model, or 'unknown' outside a git checkout."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(repo_root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    commit = proc.stdout.strip().lower()
    ok = proc.returncode == 0 and len(commit) == 40
    return commit if ok and all(c in "0123456789abcdef" for c in commit) else "unknown"


def read_artifact(artifact_dir: Path, service: str) -> TrainedArtifact:
    """The artifact's manifest, refused unless it is for `service` and its model hash matches."""
    path = artifact_dir / MANIFEST_FILE
    try:
        art = TrainedArtifact.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise InvalidSpec(f"no trained artifact at {artifact_dir}: {exc.strerror}") from None
    except ValidationError as exc:
        raise InvalidSpec(f"{path} is not an artifact manifest", {"errors": str(exc)}) from None
    if art.service != service:
        raise InvalidSpec(f"the artifact in {artifact_dir} is for {art.service!r}, not {service!r}")
    model = artifact_dir / art.model_file
    if not model.is_file() or sha256_file(model) != art.model_sha256:
        raise InvalidSpec(f"{model} is missing or does not match the sha256 in {path}")
    return art


def _copy_tree(src: Path, dst: Path) -> None:
    """Copy regular files only; a symlink could smuggle in bytes from outside the artifact."""
    for path in sorted(src.rglob("*")):
        if path.is_symlink():
            raise InvalidSpec(f"{path} is a symlink; a release copies regular files only")
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def _listed(root: Path) -> list[BundleFile]:
    """Every file of the bundle except its own metadata, sorted, with sha256 and size."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    rels = [(p, p.relative_to(root).as_posix()) for p in files]
    return [
        BundleFile(path=rel, sha256=sha256_file(p), size=p.stat().st_size)
        for p, rel in rels
        if rel not in OWN_FILES
    ]


def canonical(manifest: BundleManifest) -> bytes:
    """The one byte spelling of a manifest; its sha256 is the release digest."""
    doc = manifest.model_dump(mode="json")
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def assemble(
    work: Path, *, service: str, artifact_dir: Path, lock: Path | None, version: str
) -> bytes:
    """Fill `work` with the artifact copy, SBOM and manifest.json; return the manifest bytes."""
    art = read_artifact(artifact_dir, service)
    _copy_tree(artifact_dir, work / ARTIFACT_DIR)
    created = art.training.trained_at.astimezone(UTC)
    sbom_file = None
    if lock is not None and lock.is_file():
        doc = sbom.cyclonedx(
            lock.read_text(encoding="utf-8"),
            service=service,
            model_version=art.training.model_version,
            timestamp=created.isoformat(),
        )
        (work / SBOM_FILE).write_bytes(sbom.render(doc))
        sbom_file = SBOM_FILE
    manifest = BundleManifest(
        service=service,
        model_file=f"{ARTIFACT_DIR}/{art.model_file}",
        model_sha256=art.model_sha256,
        model_version=art.training.model_version,
        metrics=art.metrics,
        code_version=version,
        created_at=created,
        sbom_file=sbom_file,
        files=tuple(_listed(work)),
    )
    data = canonical(manifest)
    (work / MANIFEST_FILE).write_bytes(data)
    return data


def seal(work: Path, *, release: Release, signer: Signer, lock: Path | None) -> None:
    """Sign the ref, run the checks, write security_audit.json and signature.json."""
    ref = str(release)
    manifest = BundleManifest.model_validate_json((work / MANIFEST_FILE).read_bytes())
    signature = signer.sign(manifest_message(ref))
    findings: list[str] = []
    signed = signer.verify(manifest_message(ref), signature, signer.public_key)
    findings.append(f"signature: ed25519 key {signer.public_key[:16]}..., verified={signed}")
    sbom_ok = _sbom_check(work, manifest, lock, findings)
    secrets = checks.scan_secrets(work, [f.path for f in manifest.files] + [MANIFEST_FILE])
    findings.append(f"secret scan: {len(manifest.files) + 1} files, {len(secrets)} findings")
    findings += [str(s) for s in secrets]
    vulns = checks.scan_vulnerabilities(lock)
    findings += vulns.findings
    findings.append(checks.LEAST_PRIVILEGE_NOTE)
    checked = {
        "signature_verified": signed,
        "sbom_attested": sbom_ok,
        "critical_findings": vulns.critical,
        "high_findings": vulns.high,
        "secret_findings": len(secrets),
        "least_privilege_verified": True,
    }
    passed = signed and sbom_ok and not (vulns.critical or vulns.high or secrets)
    audit = SecurityAuditResult(
        service=release.name,
        release=release,
        **checked,
        passed=passed,
        findings=tuple(findings),
        created_at=datetime.now(UTC),
    )
    audit_bytes = audit.model_dump_json(indent=2).encode()
    (work / AUDIT_FILE).write_bytes(audit_bytes)
    audit_sha = hashlib.sha256(audit_bytes).hexdigest()
    sig = Signature(
        ref=ref,
        public_key=signer.public_key,
        manifest_signature=signature,
        audit_sha256=audit_sha,
        audit_signature=signer.sign(audit_message(ref, audit_sha)),
    )
    (work / SIGNATURE_FILE).write_text(sig.model_dump_json(indent=2))


def _sbom_check(work: Path, manifest: BundleManifest, lock: Path | None, out: list[str]) -> bool:
    """The SBOM is present, listed in the signed manifest and parses as CycloneDX."""
    if manifest.sbom_file is None:
        out.append(f"SBOM: none, no uv.lock at {lock}")
        return False
    try:
        count = sbom.check((work / manifest.sbom_file).read_bytes())
    except (OSError, ValueError) as exc:
        out.append(f"SBOM: {manifest.sbom_file} unusable: {exc}")
        return False
    out.append(f"SBOM: CycloneDX {sbom.SPEC_VERSION}, {count} components from uv.lock")
    return True
