"""Infra fixtures: the repository's infra/ tree and every overlay rendered once per session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controlplane.adapters.workload import kustomize

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "infra" / "k8s"
ENVIRONMENTS = ("dev", "staging", "production")
SERVICES = ("bankchurn", "nlpinsight", "chicagotaxi")


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """environment -> the objects its overlay renders to."""
    return {env: kustomize.render(K8S / "overlays" / env) for env in ENVIRONMENTS}


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """The objects of one kind, by name."""
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}
