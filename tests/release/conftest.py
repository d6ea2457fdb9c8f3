"""Release fixtures: a private copy of the trained artifact, a registry per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from controlplane.release.registry import ReleaseRegistry

REPO = Path(__file__).resolve().parents[2]
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def artifact(trained: Path, tmp_path: Path) -> Path:
    """A private copy of the trained artifact that a test may change."""
    return Path(shutil.copytree(trained, tmp_path / "artifact"))


@pytest.fixture
def registry(tmp_path: Path) -> ReleaseRegistry:
    """A registry in a fresh state folder (its own signing key), reading the repo's uv.lock."""
    return ReleaseRegistry(tmp_path / "state", repo_root=REPO)
