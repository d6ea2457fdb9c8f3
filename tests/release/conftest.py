"""Release fixtures: one small real bankchurn artifact per session, a registry per test."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from controlplane.release.registry import ReleaseRegistry

REPO = Path(__file__).resolve().parents[2]
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real bankchurn artifact, trained once on 1,500 rows through the service's command line."""
    out = tmp_path_factory.mktemp("artifact") / "bankchurn"
    cmd = [sys.executable, "-m", "services.bankchurn.train", "--out", str(out), "--seed", "7"]
    subprocess.run([*cmd, "--rows", "1500"], cwd=REPO, check=True, capture_output=True)
    return out


@pytest.fixture
def artifact(trained: Path, tmp_path: Path) -> Path:
    """A private copy of the trained artifact that a test may change."""
    return Path(shutil.copytree(trained, tmp_path / "artifact"))


@pytest.fixture
def registry(tmp_path: Path) -> ReleaseRegistry:
    """A registry in a fresh state folder (its own signing key), reading the repo's uv.lock."""
    return ReleaseRegistry(tmp_path / "state", repo_root=REPO)
