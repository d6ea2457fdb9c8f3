"""Release endpoints: what can be deployed, with its security audit (read-only, viewer)."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi import APIRouter

from controlplane.config import Settings
from controlplane.deps import SettingsDep, Viewer
from controlplane.errors import InvalidSpec
from controlplane.handoff.release import Release
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


@router.get("", response_model=ReleasesPublic)
def list_releases(settings: SettingsDep, _: Viewer, service: str | None = None) -> ReleasesPublic:
    """List deployable releases, newest first, and any bundle that failed verification."""
    ok, bad = get_registry(settings).scan(service)
    return ReleasesPublic(data=[public(r) for r in ok], count=len(ok), unusable=bad)


@router.get("/{service}/{digest}", response_model=ReleaseDetail)
def get_release(service: str, digest: str, settings: SettingsDep, _: Viewer) -> ReleaseDetail:
    """Show one release, re-verified, with its files and SecurityAuditResult."""
    return detail(get_registry(settings).get(_release(service, digest.removeprefix("sha256:"))))


def _release(service: str, digest: str | None) -> Release:
    """A Release from path/query parts; a malformed one is a 422 that says what is wrong."""
    try:
        return Release(service, digest)
    except ValueError as exc:
        raise InvalidSpec(str(exc)) from None
