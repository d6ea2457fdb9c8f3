"""Schemas of a release bundle on disk and of the release API; no I/O here."""

from __future__ import annotations

from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from controlplane.handoff.invariants import SERVICE_PATTERN, SHA256_PATTERN
from controlplane.handoff.models import SecurityAuditResult
from controlplane.handoff.release import Release

ARTIFACT_DIR = "artifact"
MANIFEST_FILE = "manifest.json"
SBOM_FILE = "sbom.cdx.json"
SIGNATURE_FILE = "signature.json"
AUDIT_FILE = "security_audit.json"
BUNDLE_FORMAT = "controlplane.release.v1"


class TrainedArtifact(BaseModel):
    """The fields of a service's artifact manifest.json a release needs (mirrored, not imported)."""

    model_config = ConfigDict(extra="ignore")

    class Training(BaseModel):
        """When and as what version the model was trained."""

        model_config = ConfigDict(extra="ignore")
        trained_at: AwareDatetime
        model_version: str = Field(min_length=1)

    service: str = Field(pattern=SERVICE_PATTERN)
    model_file: str = Field(min_length=1)
    model_sha256: str = Field(pattern=SHA256_PATTERN)
    metrics: dict[str, float] = {}
    training: Training


class BundleFile(BaseModel):
    """One file of a bundle pinned by its sha256 (path relative to the bundle, `/`-separated)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(min_length=1)
    sha256: str = Field(pattern=SHA256_PATTERN)
    size: int = Field(ge=0)


class BundleManifest(BaseModel):
    """What a release is; its canonical JSON bytes are manifest.json and their sha256 the digest.

    `created_at` is the artifact's training time, not the build time, so rebuilding the same
    artifact at the same commit gives the same bytes (the SOURCE_DATE_EPOCH idea).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str = BUNDLE_FORMAT
    service: str = Field(pattern=SERVICE_PATTERN)
    model_file: str = Field(min_length=1, description="path of the model inside the bundle")
    model_sha256: str = Field(pattern=SHA256_PATTERN)
    model_version: str = Field(min_length=1)
    metrics: dict[str, float] = {}
    code_version: str = Field(min_length=1, description="git commit of the plane, or 'unknown'")
    created_at: AwareDatetime
    sbom_file: str | None = None
    files: tuple[BundleFile, ...] = Field(min_length=1)


class Signature(BaseModel):
    """signature.json: ed25519 signatures over the release ref and over its audit file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: str = "ed25519"
    ref: str
    public_key: str
    manifest_signature: str
    audit_sha256: str = Field(pattern=SHA256_PATTERN)
    audit_signature: str


class ReleaseInfo(BaseModel):
    """A verified bundle: its ref, where it lives, its manifest and its security audit."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    release: Release
    path: Path
    manifest: BundleManifest
    audit: SecurityAuditResult
    public_key: str

    @property
    def ref(self) -> str:
        """`<service>@sha256:<digest>`."""
        return str(self.release)

    @property
    def service(self) -> str:
        """The service the release is for."""
        return self.manifest.service

    @property
    def digest(self) -> str:
        """The sha256 of manifest.json."""
        return self.release.digest or ""

    @property
    def artifact_dir(self) -> Path:
        """The artifact folder the service is started with (`--artifact`)."""
        return self.path / ARTIFACT_DIR


class UnusableRelease(BaseModel):
    """A bundle on disk that failed verification, listed so nobody mistakes silence for absence."""

    service: str
    digest: str
    problem: str


class ReleasePublic(BaseModel):
    """One release as the API lists it."""

    ref: str
    service: str
    digest: str
    created_at: AwareDatetime
    model_version: str
    model_sha256: str
    code_version: str
    metrics: dict[str, float]
    audit_passed: bool


class ReleasesPublic(BaseModel):
    """Deployable releases, newest first, and bundles that failed verification."""

    data: list[ReleasePublic]
    count: int
    unusable: list[UnusableRelease] = []


class ReleaseDetail(ReleasePublic):
    """One release with its files, signing key and full security audit."""

    files: list[BundleFile]
    sbom_file: str | None
    public_key: str
    security_audit: SecurityAuditResult


def public(info: ReleaseInfo) -> ReleasePublic:
    """The listing view of a verified release."""
    m = info.manifest
    return ReleasePublic(
        ref=info.ref,
        service=m.service,
        digest=info.digest,
        created_at=m.created_at,
        model_version=m.model_version,
        model_sha256=m.model_sha256,
        code_version=m.code_version,
        metrics=m.metrics,
        audit_passed=info.audit.passed,
    )


def detail(info: ReleaseInfo) -> ReleaseDetail:
    """The detail view of a verified release."""
    return ReleaseDetail(
        **public(info).model_dump(),
        files=list(info.manifest.files),
        sbom_file=info.manifest.sbom_file,
        public_key=info.public_key,
        security_audit=info.audit,
    )
