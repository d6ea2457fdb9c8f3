"""What CI's build step leaves behind, and the typed hand-offs the release agent makes of it.

Build outputs come as one JSON document (an image digest, its SBOM, whether its signature
verified, the scanner's counts, the model it carries), or as a local release bundle that
`opsctl release build` wrote (the embedded default). Either way they become a BuildArtifact,
a SecurityAuditResult signed with the CI key the plane trusts, and a DeploymentRequest; any
broken invariant is refused here, before the plane is asked.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from controlplane.handoff.attest import sign_audit
from controlplane.handoff.ml import TrainingArtifact
from controlplane.handoff.models import BuildArtifact, DeploymentRequest, SecurityAuditResult

CI_KEY_ENV = "CONTROLPLANE_CI_KEY_FILE"
FAIRNESS_FLOOR = 0.80  # the four-fifths rule (TrainingArtifact's invariant)


class ScannerCounts(BaseModel):
    """What the vulnerability and secret scanners found."""

    model_config = ConfigDict(extra="forbid")
    critical: int = Field(default=0, ge=0)
    high: int = Field(default=0, ge=0)
    secrets: int = Field(default=0, ge=0)


class BuildOutputs(BaseModel):
    """The build step's results, as CI writes them (build-outputs.json)."""

    model_config = ConfigDict(extra="forbid")
    service: str
    release: str = Field(description="<service or image>@sha256:<64 hex>")
    sbom_path: str
    vulnerability_report_path: str | None = None
    signature_verified: bool
    sbom_attested: bool
    least_privilege_verified: bool
    scanner: ScannerCounts = ScannerCounts()
    findings: list[str] = []
    audited_at: AwareDatetime
    training: dict[str, Any] = Field(description="the TrainingArtifact hand-off's fields")


def load_ci_key(path: Path) -> Ed25519PrivateKey:
    """The CI signing key: a PEM (PKCS#8) file, or the base64 of the raw 32 bytes."""
    data = path.read_bytes()
    if data.lstrip().startswith(b"-----BEGIN"):
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} holds a key that is not ed25519")
        return key
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(data.strip(), validate=True))


def from_bundle(folder: Path) -> BuildOutputs:
    """Build outputs from a local release bundle (manifest, SBOM, its own audit, its model)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    audit = SecurityAuditResult.model_validate_json((folder / "security_audit.json").read_text())
    model = json.loads((folder / "artifact" / "manifest.json").read_text())
    metrics = {k: float(v) for k, v in model.get("metrics", {}).items()}
    fairness = min((v for k, v in metrics.items() if k.startswith("dir_")), default=1.0)
    training = {
        "service": manifest["service"],
        "model_path": str(folder / "artifact" / manifest["model_file"].split("/")[-1]),
        "model_sha256": manifest["model_sha256"],
        "run_id": manifest["model_version"],
        "metrics": metrics,
        "fairness_dir": fairness,
        "quality_gates_passed": fairness >= FAIRNESS_FLOOR,
        "created_at": manifest["created_at"],
    }
    return BuildOutputs(
        service=audit.service,
        release=str(audit.release),
        sbom_path=str(folder / (manifest.get("sbom_file") or "sbom.cdx.json")),
        signature_verified=audit.signature_verified,
        sbom_attested=audit.sbom_attested,
        least_privilege_verified=audit.least_privilege_verified,
        scanner=ScannerCounts(
            critical=audit.critical_findings,
            high=audit.high_findings,
            secrets=audit.secret_findings,
        ),
        findings=list(audit.findings),
        audited_at=audit.created_at,
        training=training,
    )


def build_artifact(out: BuildOutputs) -> BuildArtifact:
    """Builder -> auditor: the pinned release, its SBOM and the model inside."""
    return BuildArtifact(
        service=out.service,
        release=out.release,
        sbom_path=out.sbom_path,
        vulnerability_report_path=out.vulnerability_report_path,
        training_artifact=TrainingArtifact(**out.training),
        created_at=out.audited_at,
    )


def security_audit(out: BuildOutputs, key: Ed25519PrivateKey) -> SecurityAuditResult:
    """Auditor -> deployer: the six checks, `passed` only when all hold, signed by CI."""
    checks = {
        "signature_verified": out.signature_verified,
        "sbom_attested": out.sbom_attested,
        "critical_findings": out.scanner.critical,
        "high_findings": out.scanner.high,
        "secret_findings": out.scanner.secrets,
        "least_privilege_verified": out.least_privilege_verified,
    }
    passed = (
        out.signature_verified
        and out.sbom_attested
        and out.least_privilege_verified
        and not (out.scanner.critical or out.scanner.high or out.scanner.secrets)
    )
    audit = SecurityAuditResult(
        service=out.service,
        release=out.release,
        passed=passed,
        findings=tuple(out.findings),
        created_at=out.audited_at,
        **checks,
    )
    return sign_audit(audit, key)


def deployment_request(
    build: BuildArtifact,
    audit: SecurityAuditResult,
    *,
    environment: str,
    release_tag: str | None,
    commit_sha: str | None,
    commit_time: datetime | None,
    reason: str | None,
) -> DeploymentRequest:
    """Deliver this build to one environment; the mode is the plane's to decide."""
    return DeploymentRequest(
        service=build.service,
        environment=environment,
        release=build.release,
        release_tag=release_tag,
        commit_sha=commit_sha,
        commit_time=commit_time,
        security_audit=audit,
        reason=reason,
    )
