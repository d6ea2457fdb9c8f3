"""`make run` brings the services up with a bundled initial release, trained once."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.errors import ControlPlaneError
from controlplane.release.registry import ReleaseRegistry


@pytest.mark.slow
def test_ensure_initial_trains_once_then_reuses_the_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = ReleaseRegistry(tmp_path / "state")
    first = registry.ensure_initial("bankchurn")
    assert first.audit.passed and first.manifest.service == "bankchurn"
    assert not any((registry.root / ".work").iterdir())  # the training folder is cleaned up

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a release exists; nothing should be trained")

    monkeypatch.setattr("controlplane.release.registry.subprocess.run", no_training)
    assert registry.ensure_initial("bankchurn").ref == first.ref


def test_ensure_initial_reports_a_failed_training(tmp_path: Path) -> None:
    registry = ReleaseRegistry(tmp_path / "state")
    with pytest.raises(ControlPlaneError, match="training the initial nosuchservice model failed"):
        registry.ensure_initial("nosuchservice")
