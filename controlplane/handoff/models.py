"""The delivery hand-offs (DESIGN §5): frozen models that refuse to exist when invalid.

Chain: EDAHandoff -> TrainingArtifact -> BuildArtifact -> SecurityAuditResult -> DeploymentRequest.
ModelValidation and DriftReport come from the services (`ml.py`), IncidentReport from on-call
(`ops.py`). Every broken invariant reads `invariant <name>: <reason>`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from controlplane.audit.redact import FreeText
from controlplane.clock import AwareIsoTime
from controlplane.handoff.invariants import (
    COMMIT_PATTERN,
    KNOWN_SERVICES,
    SERVICE_PATTERN,
    Handoff,
    Invariant,
    invariant_error,
)
from controlplane.handoff.ml import DriftReport, EDAHandoff, ModelValidation, TrainingArtifact
from controlplane.handoff.ops import IncidentReport
from controlplane.handoff.release import Release
from controlplane.policy.models import Environment

PRODUCTION_TAG = re.compile(r"^v\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$")
TAG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+/-]{0,127}$"


def _now() -> datetime:
    return datetime.now(UTC)


# ---- BuildArtifact ----------------------------------------------------------------------------


def _build_pinned(b: BuildArtifact) -> str | None:
    return None if b.release.pinned else f"a build makes exact bytes: pin {b.release}@sha256:<hex>"


def _build_same_service(b: BuildArtifact) -> str | None:
    t = b.training_artifact.service
    return None if t == b.service else f"the build is for {b.service}, its model for {t}"


class BuildArtifact(Handoff):
    """Builder -> auditor: the pinned release, its SBOM and vulnerability report, its model."""

    service: str = Field(pattern=SERVICE_PATTERN)
    release: Release
    sbom_path: str = Field(min_length=1, description="CycloneDX JSON")
    vulnerability_report_path: str | None = None
    training_artifact: TrainingArtifact
    created_at: AwareDatetime = Field(default_factory=_now)

    invariants = (
        Invariant("release_pinned", _build_pinned),
        Invariant("build_matches_training_service", _build_same_service),
    )


# ---- SecurityAuditResult ----------------------------------------------------------------------


def _audit_pinned(a: SecurityAuditResult) -> str | None:
    return None if a.release.pinned else "an audit is only meaningful for a digest-pinned release"


def _passed_matches_checks(a: SecurityAuditResult) -> str | None:
    if a.passed == a.checks_pass():
        return None
    if a.passed:
        return "passed=true but " + "; ".join(a.failed_checks())
    return "passed=false but all six checks passed"


class AuditSignature(BaseModel):
    """CI's ed25519 signature over the audit (see handoff/attest.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=40, max_length=64, description="base64 raw ed25519 public key")
    value: str = Field(min_length=80, max_length=100, description="base64 signature")


class SecurityAuditResult(Handoff):
    """Auditor -> deployer: signature, SBOM, findings and least privilege for one release."""

    service: str = Field(pattern=SERVICE_PATTERN)
    release: Release
    signature_verified: StrictBool
    sbom_attested: StrictBool
    critical_findings: StrictInt = Field(ge=0)
    high_findings: StrictInt = Field(ge=0)
    secret_findings: StrictInt = Field(ge=0)
    least_privilege_verified: StrictBool
    passed: StrictBool
    findings: tuple[str, ...] = ()
    created_at: AwareDatetime = Field(default_factory=_now)
    signature: AuditSignature | None = Field(
        default=None, description="CI's signature; images need one by a key the plane trusts"
    )

    invariants = (
        Invariant("release_pinned", _audit_pinned),
        Invariant("audit_passed_matches_checks", _passed_matches_checks),
    )

    def failed_checks(self) -> list[str]:
        """Which of the six checks failed, in words."""
        checks = {
            "signature not verified": not self.signature_verified,
            "SBOM not attested": not self.sbom_attested,
            f"{self.critical_findings} critical findings": self.critical_findings > 0,
            f"{self.high_findings} high findings": self.high_findings > 0,
            f"{self.secret_findings} secret findings": self.secret_findings > 0,
            "least privilege not verified": not self.least_privilege_verified,
        }
        return [text for text, failed in checks.items() if failed]

    def checks_pass(self) -> bool:
        """Signature AND SBOM AND 0 critical AND 0 high AND 0 secrets AND least privilege."""
        return not self.failed_checks()


# ---- DeploymentRequest ------------------------------------------------------------------------


def _pinned_outside_dev(r: DeploymentRequest) -> str | None:
    if r.environment is Environment.DEV or r.release.pinned:
        return None
    return f"{r.environment.value} needs a digest-pinned release, got {r.release}"


def _production_tag(r: DeploymentRequest) -> str | None:
    if r.environment is not Environment.PRODUCTION:
        return None
    if r.release_tag is None:
        return "production needs a v* release tag (release_tag, e.g. v1.2.3)"
    if not PRODUCTION_TAG.match(r.release_tag):
        return f"production needs a v<major>.<minor>.<patch> tag, got {r.release_tag!r}"
    return None


def _audit_present(r: DeploymentRequest) -> str | None:
    if r.environment is Environment.DEV or r.security_audit is not None:
        return None
    return f"{r.environment.value} needs a security_audit for {r.release}"


def _audit_same_release(r: DeploymentRequest) -> str | None:
    a = r.security_audit
    if a is None or a.release == r.release:
        return None
    return f"the security audit is for {a.release}, not for {r.release}"


def _audit_same_service(r: DeploymentRequest) -> str | None:
    a = r.security_audit
    if a is None or a.service == r.service:
        return None
    return f"the security audit is for service {a.service}, not {r.service}"


def _production_passed_audit(r: DeploymentRequest) -> str | None:
    a = r.security_audit
    if r.environment is not Environment.PRODUCTION or a is None or a.passed:
        return None
    return "production needs a passed security audit: " + ("; ".join(a.failed_checks()) or "failed")


def _commit_sha(value: str | None) -> str | None:
    if value is not None and not re.match(COMMIT_PATTERN, value.lower()):
        raise invariant_error("commit_sha_format", f"{value!r} is not a 7-40 hex git commit")
    return None if value is None else value.lower()


class DeploymentRequest(Handoff):
    """Deliver one release of one service to one environment (the mode is the plane's to decide)."""

    # The plane refuses other services (422, deploy.facts.require_known_service): say so here.
    service: str = Field(pattern=SERVICE_PATTERN, json_schema_extra={"enum": [*KNOWN_SERVICES]})
    environment: Environment = Field(description="dev | staging | production (local means dev)")
    release: Release
    release_tag: str | None = Field(default=None, pattern=TAG_PATTERN)
    commit_sha: str | None = None
    commit_time: AwareIsoTime | None = Field(default=None, description="for DORA lead time")
    security_audit: SecurityAuditResult | None = None
    reason: FreeText | None = Field(default=None, max_length=2000)
    changes: tuple[str, ...] = Field(default=(), max_length=1000, description="commit shas")

    invariants = (
        Invariant("release_pinned_outside_dev", _pinned_outside_dev),
        Invariant("production_requires_release_tag", _production_tag),
        Invariant("audit_required_outside_dev", _audit_present),
        Invariant("audit_matches_release", _audit_same_release),
        Invariant("audit_matches_service", _audit_same_service),
        Invariant("production_requires_passed_audit", _production_passed_audit),
    )

    @model_validator(mode="before")
    @classmethod
    def _mode_is_not_the_clients(cls, data: Any) -> Any:
        if isinstance(data, dict) and "required_mode" in data:
            raise invariant_error(
                "mode_decided_by_plane",
                "required_mode is decided by the plane's policy, not by the client; remove it",
            )
        return data

    @field_validator("environment", mode="before")
    @classmethod
    def _env(cls, value: object) -> Environment:
        return Environment.parse(value if isinstance(value, Environment) else str(value))

    @field_validator("commit_sha")
    @classmethod
    def _commit(cls, value: str | None) -> str | None:
        return _commit_sha(value)

    @field_validator("changes")
    @classmethod
    def _changes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_commit_sha(v) or "" for v in value)


HANDOFF_MODELS: dict[str, type[BaseModel]] = {
    m.__name__: m
    for m in (
        EDAHandoff,
        TrainingArtifact,
        BuildArtifact,
        SecurityAuditResult,
        ModelValidation,
        DriftReport,
        DeploymentRequest,
        IncidentReport,
    )
}


def lookup(name: str) -> type[BaseModel] | None:
    """Find a hand-off model by name, forgiving case and `-`/`_` (deployment-request works)."""
    wanted = name.replace("-", "").replace("_", "").lower()
    return next((m for key, m in HANDOFF_MODELS.items() if key.lower() == wanted), None)
