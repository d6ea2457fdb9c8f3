"""Release endpoints: what can be deployed, with its security audit (read-only, viewer)."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi import APIRouter, Query
from fastapi import Path as PathPart

from controlplane.config import Settings
from controlplane.deps import SettingsDep, Viewer
from controlplane.errors import InvalidSpec
from controlplane.handoff.invariants import SERVICE_PATTERN
from controlplane.handoff.release import DIGEST_PATTERN, Release
from controlplane.release.models import ReleaseDetail, ReleasesPublic, detail, public
from controlplane.release.registry import ReleaseRegistry

router = APIRouter(prefix="/v1/releases", tags=["releases"])

_REGISTRIES: dict[Path, ReleaseRegistry] = {}
_LOCK = threading.Lock()


def get_registry(settings: Settings) -> ReleaseRegistry:
    """The registry for this plane's state folder, built once per folder."""
    key = settings.state_dir.resolve()
    with _LOCK:
        if key not in _REGISTRIES:
            _REGISTRIES[key] = ReleaseRegistry(settings.state_dir)
        return _REGISTRIES[key]


# The schema states the patterns the registry and Release check, which say what is wrong in
# words (422): a service name that is also a release name (it ends in a letter or digit).
ServicePart = PathPart(json_schema_extra={"pattern": r"^[a-z][a-z0-9_-]{0,62}[a-z0-9]$"})
DigestPart = PathPart(
    description="64 lowercase hex", json_schema_extra={"pattern": f"^(sha256:)?{DIGEST_PATTERN}$"}
)


@router.get("", response_model=ReleasesPublic)
def list_releases(
    settings: SettingsDep, _: Viewer, service: str | None = Query(None, pattern=SERVICE_PATTERN)
) -> ReleasesPublic:
    """List deployable releases, newest first, and any bundle that failed verification."""
    ok, bad = get_registry(settings).scan(service)
    return ReleasesPublic(data=[public(r) for r in ok], count=len(ok), unusable=bad)


@router.get("/{service}/{digest}", response_model=ReleaseDetail)
def get_release(
    settings: SettingsDep, _: Viewer, service: str = ServicePart, digest: str = DigestPart
) -> ReleaseDetail:
    """Show one release, re-verified, with its files and SecurityAuditResult."""
    return detail(get_registry(settings).get(_release(service, digest.removeprefix("sha256:"))))


def _release(service: str, digest: str | None) -> Release:
    """A Release from path/query parts; a malformed one is a 422 that says what is wrong."""
    try:
        return Release(service, digest)
    except ValueError as exc:
        raise InvalidSpec(str(exc)) from None
