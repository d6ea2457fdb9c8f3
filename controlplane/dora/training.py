"""When a release's model was trained, for the model view (challenger trained -> production).

A local release bundle's manifest.json carries the artifact's training time as `created_at`
(release/models.py). The manifest is content-addressed (its sha256 is the release digest), so a
read is checked by hashing those bytes and kept for good; no full bundle verification is needed
for a statistic.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime
from pathlib import Path

from controlplane.handoff.release import Release

MANIFEST = "manifest.json"


class TrainingTimes:
    """Training times of the release bundles under `<state_dir>/releases`, cached by digest."""

    def __init__(self, releases_dir: Path) -> None:
        self.root = Path(releases_dir)
        self._known: dict[str, float | None] = {}
        self._lock = threading.Lock()

    def available(self) -> bool:
        """Whether any bundle could be looked up at all (no folder: skip the per-row query)."""
        return self.root.is_dir() and any(self.root.iterdir())

    def trained_at(self, ref: str) -> float | None:
        """Epoch seconds the release's model was trained, None when unknown here."""
        with self._lock:
            if ref in self._known:
                return self._known[ref]
        found = self._read(ref)
        with self._lock:
            self._known[ref] = found
        return found

    def _read(self, ref: str) -> float | None:
        try:
            release = Release.parse(ref)
        except ValueError:
            return None
        if release.digest is None:
            return None
        path = self.root / release.name / release.digest / MANIFEST
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != release.digest:
            return None  # not the bytes the release names: no time rather than a wrong one
        try:
            created = json.loads(data)["created_at"]
            return datetime.fromisoformat(str(created).replace("Z", "+00:00")).timestamp()
        except (ValueError, KeyError, TypeError):
            return None
