"""Fixtures for the ML services: small trained artifacts and real uvicorn servers on loopback."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from svc_server import running

from services.common.serving import ServeSettings

SMALL_ROWS = {"bankchurn": 3000, "nlpinsight": 3000, "chicagotaxi": 77 * 168 * 3}


def train(service: str, out: Path, seed: int = 1, rows: int | None = None) -> Path:
    """Train one service on small synthetic data into `out`."""
    module = __import__(f"services.{service}.train", fromlist=["run"])
    module.run(out, seed, rows or SMALL_ROWS[service])
    return out


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One small artifact per service, trained once per session (read-only for tests)."""
    root = tmp_path_factory.mktemp("artifacts")
    return {name: train(name, root / name) for name in SMALL_ROWS}


@pytest.fixture
def artifact_copy(artifacts: dict[str, Path], tmp_path: Path) -> Callable[[str], Path]:
    """A private copy of a service's artifact that a test may tamper with."""

    def copy(service: str) -> Path:
        return Path(shutil.copytree(artifacts[service], tmp_path / f"{service}-copy"))

    return copy


@pytest.fixture
def serve(tmp_path: Path) -> Callable[..., object]:
    """serve(service, artifact) -> context manager yielding a client of a running server."""

    def start(service: str, artifact: Path, **settings: object):
        module = __import__(f"services.{service}.app", fromlist=["build"])
        log_dir = tmp_path / f"log-{service}"
        app = module.build(ServeSettings(artifact=artifact, log_dir=log_dir, **settings))
        return running(app)

    return start
