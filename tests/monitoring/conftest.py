"""Monitoring fixtures: a real Alertmanager per test (see alertmanager_process.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.monitoring.alertmanager_process import Alertmanager, alertmanager_binary


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    """A fresh Alertmanager (no silences), stopped after the test."""
    binary = alertmanager_binary()
    if binary is None:
        pytest.skip(
            "Alertmanager is not installed (apt-get install prometheus-alertmanager; CI does)"
        )
    server = Alertmanager(binary, tmp_path / "alertmanager")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
