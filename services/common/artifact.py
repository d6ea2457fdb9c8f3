"""Artifact folders: a joblib model plus manifest.json, refused on load when the sha256 differs."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib

from services.common.models import Manifest, TrainingMeta

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"


class ArtifactError(Exception):
    """The artifact folder is missing, malformed or does not match its manifest."""


def sha256_file(path: Path) -> str:
    """Hash a file in chunks so large models do not need to fit in memory twice."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save(
    out: Path,
    *,
    service: str,
    model: Any,
    metrics: dict[str, float],
    baseline: dict[str, dict[str, Any]],
    seed: int,
    rows: int,
) -> Manifest:
    """Write the model and a manifest that pins its hash, metrics and baseline distributions."""
    import sklearn

    out.mkdir(parents=True, exist_ok=True)
    model_path = out / MODEL_FILE
    joblib.dump(model, model_path, compress=3)
    sha = sha256_file(model_path)
    trained_at = datetime.now(UTC).isoformat(timespec="seconds")
    manifest = Manifest(
        service=service,
        model_file=MODEL_FILE,
        model_sha256=sha,
        metrics={k: float(v) for k, v in metrics.items()},
        baseline=baseline,
        training=TrainingMeta(
            seed=seed,
            rows=rows,
            sklearn_version=sklearn.__version__,
            trained_at=trained_at,
            model_version=f"{service}-{trained_at[:10].replace('-', '')}-{sha[:12]}",
        ),
    )
    (out / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2))
    return manifest


def read_manifest(folder: Path) -> Manifest:
    """Parse manifest.json, translating every failure into an ArtifactError."""
    path = folder / MANIFEST_FILE
    try:
        return Manifest.model_validate(json.loads(path.read_text()))
    except FileNotFoundError as exc:
        raise ArtifactError(f"no {MANIFEST_FILE} in {folder}") from exc
    except ValueError as exc:
        raise ArtifactError(f"{path} is not a valid manifest: {exc}") from exc


def load(folder: Path, *, service: str) -> tuple[Any, Manifest]:
    """Load a verified model; refuse it when the file's sha256 differs from the manifest."""
    manifest = read_manifest(folder)
    if manifest.service != service:
        raise ArtifactError(f"artifact is for {manifest.service!r}, not {service!r}")
    model_path = folder / manifest.model_file
    if not model_path.is_file():
        raise ArtifactError(f"model file {model_path} is missing")
    actual = sha256_file(model_path)
    if actual != manifest.model_sha256:
        raise ArtifactError(
            f"sha256 mismatch for {model_path}: manifest says {manifest.model_sha256}, "
            f"file is {actual}; refusing to load a model that may have been tampered with"
        )
    # Unpickling happens only after the hash matched, never before.
    return joblib.load(model_path), manifest
