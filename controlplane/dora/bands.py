"""Load the versioned band tables (bands/<version>.yaml): 2023 by default, 2024 selectable."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

from controlplane.dora.metrics import BandTable, KeyBands, Level
from controlplane.errors import InvalidSpec

BANDS_DIR = Path(__file__).resolve().parent / "bands"
DEFAULT = "2023"
METHODS = ("at_least", "at_most", "nearest")


def versions() -> list[str]:
    """The band tables shipped, oldest first."""
    return sorted(p.stem for p in BANDS_DIR.glob("*.yaml"))


@functools.cache
def load(version: str = DEFAULT) -> BandTable:
    """One table, parsed and checked once per process (422 naming `bands` when unknown)."""
    if version not in versions():
        raise InvalidSpec(
            f"bands: no band table {version!r}; known: {', '.join(versions())}",
            {"field": "bands", "known": versions()},
        )
    doc: dict[str, Any] = yaml.safe_load((BANDS_DIR / f"{version}.yaml").read_text())
    keys: dict[str, KeyBands] = {}
    for key, spec in doc["metrics"].items():
        if spec["method"] not in METHODS:
            raise ValueError(f"bands/{version}.yaml: {key} has unknown method {spec['method']}")
        levels = tuple(
            Level(band=b["band"], limit=b.get("limit"), value=b.get("value"), report=b["report"])
            for b in spec["bands"]
        )
        keys[key] = KeyBands(method=spec["method"], levels=levels)
    return BandTable(version=str(doc["version"]), report=str(doc["report"]), keys=keys)
