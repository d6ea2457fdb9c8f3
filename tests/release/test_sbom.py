"""The SBOM is CycloneDX JSON listing the locked Python packages with pypi purls."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from controlplane.release import sbom
from controlplane.release.registry import ReleaseRegistry

from .conftest import COMMIT, REPO

SMALL_LOCK = """
version = 1

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "psycopg", extra = ["binary"] }]

[package.dev-dependencies]
dev = [{ name = "pytest" }]

[[package]]
name = "psycopg"
version = "3.3.9"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://x/psycopg.tar.gz", hash = "sha256:abcd" }

[package.optional-dependencies]
binary = [{ name = "psycopg-binary" }]

[[package]]
name = "psycopg-binary"
version = "3.3.9"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "pytest"
version = "9.0.3"
source = { registry = "https://pypi.org/simple" }
"""


def test_the_bundle_sbom_lists_every_locked_package(
    registry: ReleaseRegistry, artifact: Path
) -> None:
    info = registry.build("bankchurn", artifact, code_version=COMMIT)
    doc = json.loads((info.path / "sbom.cdx.json").read_text())
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.5"
    assert doc["metadata"]["component"]["version"] == info.manifest.model_version
    by_name = {c["name"]: c for c in doc["components"]}
    locked = tomllib.loads((REPO / "uv.lock").read_text())["package"]
    assert len(by_name) == len(locked) - 1  # everything but the project itself
    fastapi = by_name["fastapi"]
    assert fastapi["purl"] == f"pkg:pypi/fastapi@{fastapi['version']}"
    assert fastapi["scope"] == "required" and by_name["pytest"]["scope"] == "excluded"


def test_runtime_scope_follows_dependencies_and_extras() -> None:
    project, packages = sbom.read_lock(SMALL_LOCK)
    assert project == "app"
    assert {p.name: p.runtime for p in packages} == {
        "psycopg": True,
        "psycopg-binary": True,
        "pytest": False,
    }
    assert packages[0].purl == "pkg:pypi/psycopg@3.3.9" and packages[0].sha256 == "abcd"


def test_the_sbom_is_deterministic() -> None:
    def make() -> bytes:
        doc = sbom.cyclonedx(SMALL_LOCK, service="s1", model_version="v1", timestamp="t")
        return sbom.render(doc)

    assert make() == make()
    assert sbom.check(make()) == 3


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not json", "not JSON"),
        (b'{"bomFormat": "SPDX"}', "not a CycloneDX"),
        (b'{"bomFormat": "CycloneDX", "components": []}', "no components"),
        (b'{"bomFormat": "CycloneDX", "components": [{"name": "x"}]}', "lack a name or purl"),
    ],
)
def test_check_refuses_what_is_not_a_usable_sbom(data: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        sbom.check(data)
