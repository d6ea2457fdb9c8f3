"""A CycloneDX 1.5 JSON SBOM of the plane's Python dependencies, read from uv.lock (pure)."""

from __future__ import annotations

import json
import tomllib
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

SPEC_VERSION = "1.5"
_NAMESPACE = uuid.UUID("6f1e8a52-2b1c-4d0e-9a57-0c7c1d4e6b11")


@dataclass(frozen=True)
class LockedPackage:
    """One `[[package]]` of uv.lock; `runtime` is False for dev-only tools (pytest, ruff...)."""

    name: str
    version: str
    sha256: str | None
    runtime: bool

    @property
    def purl(self) -> str:
        """The package URL, e.g. `pkg:pypi/fastapi@0.163.2`."""
        return f"pkg:pypi/{self.name}@{self.version}"


def _is_root(pkg: dict[str, Any]) -> bool:
    source = pkg.get("source") or {}
    return "editable" in source or "virtual" in source


def _edges(pkg: dict[str, Any], extras: tuple[str, ...] = ()) -> list[tuple[str, tuple[str, ...]]]:
    """(name, requested extras) of what a package needs at run time, its extras included."""
    deps = list(pkg.get("dependencies") or [])
    for extra in extras:
        deps += (pkg.get("optional-dependencies") or {}).get(extra, [])
    return [(str(d["name"]), tuple(d.get("extra") or ())) for d in deps]


def read_lock(text: str) -> tuple[str, list[LockedPackage]]:
    """The root project's name and every locked package, marking those reachable at run time."""
    packages = tomllib.loads(text).get("package") or []
    if not isinstance(packages, list):
        raise ValueError("uv.lock has no [[package]] tables")
    roots = [p for p in packages if _is_root(p)]
    by_name = {str(p["name"]): p for p in packages if not _is_root(p)}
    seen: set[tuple[str, tuple[str, ...]]] = set()
    queue = deque(edge for root in roots for edge in _edges(root))
    while queue:
        edge = queue.popleft()
        pkg = by_name.get(edge[0])
        if pkg is None or edge in seen:
            continue
        seen.add(edge)
        queue.extend(_edges(pkg, edge[1]))
    runtime = {name for name, _ in seen}
    out = [
        LockedPackage(
            name=name,
            version=str(pkg.get("version", "unknown")),
            sha256=_sdist_sha256(pkg),
            runtime=name in runtime,
        )
        for name, pkg in sorted(by_name.items())
    ]
    return (str(roots[0]["name"]) if roots else "unknown"), out


def _sdist_sha256(pkg: dict[str, Any]) -> str | None:
    algo, _, value = str((pkg.get("sdist") or {}).get("hash", "")).partition(":")
    return value if algo == "sha256" and value else None


def cyclonedx(
    lock_text: str, *, service: str, model_version: str, timestamp: str
) -> dict[str, Any]:
    """The SBOM document; deterministic for the same inputs, so bundles rebuild byte for byte."""
    project, packages = read_lock(lock_text)
    serial = uuid.uuid5(_NAMESPACE, f"{service}:{model_version}:{lock_text}")
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{serial}",
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": {"components": [{"type": "application", "name": "opsctl release build"}]},
            "component": {
                "type": "machine-learning-model",
                "bom-ref": service,
                "name": service,
                "version": model_version,
                "description": f"served by {project} from uv.lock",
            },
        },
        "components": [_component(p) for p in packages],
    }


def _component(pkg: LockedPackage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "library",
        "bom-ref": pkg.purl,
        "name": pkg.name,
        "version": pkg.version,
        "purl": pkg.purl,
        "scope": "required" if pkg.runtime else "excluded",
    }
    if pkg.sha256:
        out["hashes"] = [{"alg": "SHA-256", "content": pkg.sha256}]
    return out


def render(document: dict[str, Any]) -> bytes:
    """Stable bytes for the SBOM file."""
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def check(data: bytes) -> int:
    """Parse an SBOM file and return its component count; ValueError when it is not CycloneDX."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise ValueError(f"SBOM is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("bomFormat") != "CycloneDX":
        raise ValueError("SBOM is not a CycloneDX document (bomFormat)")
    components = doc.get("components")
    if not isinstance(components, list) or not components:
        raise ValueError("SBOM lists no components")
    bad = [c for c in components if not (isinstance(c, dict) and c.get("name") and c.get("purl"))]
    if bad:
        raise ValueError(f"{len(bad)} SBOM components lack a name or purl")
    return len(components)
