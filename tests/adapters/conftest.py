"""Adapter fixtures: tiny trained bankchurn bundles, backends that clean up, moto's server."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from factories import train_bankchurn

from controlplane.adapters.base import Release, Target
from controlplane.adapters.workload.local import LocalBackend

if TYPE_CHECKING:
    from tests.adapters.moto_secrets import MotoAws

TARGET = Target("bankchurn", "dev")


def release_of(artifact: Path) -> Release:
    """A local release: digest = sha256 of the bundle's manifest (DESIGN §5)."""
    digest = hashlib.sha256((artifact / "manifest.json").read_bytes()).hexdigest()
    return Release(f"bankchurn@sha256:{digest}", artifact=str(artifact), model_version=digest[:12])


@pytest.fixture(scope="session")
def bankchurn_artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two small real bundles (seeds 1 and 2) and a tampered one whose /ready never turns 200."""
    root = tmp_path_factory.mktemp("bankchurn")
    out = {name: train_bankchurn(root / name, seed) for name, seed in (("v1", 1), ("v2", 2))}
    broken = Path(shutil.copytree(out["v2"], root / "broken"))
    with (broken / "model.joblib").open("ab") as fh:
        fh.write(b"tampered")  # sha256 no longer matches the manifest: the service refuses it
    manifest = (broken / "manifest.json").read_text().replace('"rows": 1500', '"rows": 1501')
    (broken / "manifest.json").write_text(manifest)  # a distinct digest for a distinct release
    out["broken"] = broken
    return out


@pytest.fixture(scope="session")
def releases(bankchurn_artifacts: dict[str, Path]) -> dict[str, Release]:
    """v1, v2 and broken as releases."""
    return {name: release_of(path) for name, path in bankchurn_artifacts.items()}


@pytest.fixture
def make_local(tmp_path: Path) -> Iterator[Callable[..., LocalBackend]]:
    """Build local backends over one state dir; every process they started is stopped after."""
    made: list[LocalBackend] = []

    def make(**kwargs: object) -> LocalBackend:
        options: dict[str, object] = {"base_port": 0, "ready_timeout_s": 60.0, "stop_grace_s": 5.0}
        options.update(kwargs)
        backend = LocalBackend(tmp_path / "state", **options)  # type: ignore[arg-type]
        made.append(backend)
        return backend

    yield make
    for backend in reversed(made):
        backend.stop_all()


@pytest.fixture(scope="session")
def moto_aws() -> Iterator[MotoAws]:
    """moto's AWS server for the whole session (its start costs seconds); tests reset it."""
    from tests.adapters.moto_secrets import MotoAws  # moto is slow to import: only when used

    server = MotoAws()
    server.start()
    yield server
    server.close()
