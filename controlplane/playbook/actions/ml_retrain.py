"""`model.train` and `release.build`: a challenger from the service's own training entry point,
then a signed local bundle of it that the workload backend can deploy.

Training runs `python -m services.<svc>.train` in a subprocess into a folder named for the step's
idempotency key: a re-run of the key (a crash after training, before the step was recorded)
finds the finished folder and does not train again. A folder only appears complete: training
writes beside it and renames it into place, so a half-written one is never taken for a model.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from controlplane.errors import ControlPlaneError
from controlplane.playbook.actions.base import (
    Action,
    ActionFailed,
    ActionInputs,
    ActionOutputs,
    StepContext,
)
from controlplane.playbook.actions.ml_artifacts import (
    SERVICE,
    challenger,
    challengers_root,
    known_service,
    read_manifest,
)
from controlplane.playbook.actions.ml_jobs import run_module
from controlplane.release import bundle
from controlplane.release.registry import ReleaseRegistry

if TYPE_CHECKING:
    from services.common.models import Manifest

TRAIN_TIMEOUT_S = 25 * 60.0  # below the retrain playbook's 30 min step timeout


def seed_for(key: str) -> int:
    """A training seed from the idempotency key: new data per retrain, the same on a re-run."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % (2**31 - 1) + 1


def folder_for(key: str) -> str:
    """The challenger folder's name for one key (`<run>-<step>-<group>`)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", key)


def finished(folder: Path, service: str) -> Manifest | None:
    """The challenger in `folder` when it is complete and its model matches its manifest."""
    if not folder.is_dir():
        return None
    try:
        bundle.read_artifact(folder, service)  # the model file's sha256 against the manifest
    except ControlPlaneError:
        return None
    return read_manifest(folder, service)


class TrainIn(ActionInputs):
    service: str = SERVICE
    rows: int = Field(default=3000, ge=200, le=200_000)
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="0: one drawn from the key")


class TrainOut(ActionOutputs):
    challenger_dir: str
    model_version: str
    metrics: dict[str, float]
    seed: int
    rows: int
    reused: bool


def _out(folder: Path, manifest: Manifest, *, reused: bool) -> TrainOut:
    return TrainOut(
        challenger_dir=str(folder),
        model_version=manifest.training.model_version,
        metrics={k: round(v, 6) for k, v in manifest.metrics.items()},
        seed=manifest.training.seed,
        rows=manifest.training.rows,
        reused=reused,
    )


def train(ctx: StepContext, given: TrainIn) -> TrainOut:
    """Train a challenger in a subprocess, or reuse the one this key already finished."""
    service = known_service(ctx, given.service)
    final = challengers_root(ctx, service) / folder_for(ctx.idempotency_key)
    done = finished(final, service)
    if done is not None:
        ctx.note(f"{done.training.model_version} was trained under this key already; reused")
        return _out(final, done, reused=True)
    seed = given.seed or seed_for(ctx.idempotency_key)
    work = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}"
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        run_module(
            ctx,
            f"services.{service}.train",
            ["--out", str(work), "--seed", str(seed), "--rows", str(given.rows)],
            timeout_s=TRAIN_TIMEOUT_S,
            what=f"training {service} ({given.rows} rows, seed {seed})",
        )
        if finished(final, service) is None:  # else another attempt of this key won
            shutil.rmtree(final, ignore_errors=True)
            with contextlib.suppress(OSError):  # it won just now
                work.rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    manifest = finished(final, service)
    if manifest is None:
        raise ActionFailed(f"training {service} wrote no usable artifact", retryable=False)
    ctx.note(f"trained {manifest.training.model_version} on {given.rows} rows (seed {seed})")
    return _out(final, manifest, reused=False)


class BuildIn(ActionInputs):
    service: str = SERVICE
    artifact_dir: str = Field(min_length=1, max_length=1000)


class BuildOut(ActionOutputs):
    release: str
    model_version: str
    digest: str
    audit_passed: bool
    findings: list[str]


def build(ctx: StepContext, given: BuildIn) -> BuildOut:
    """Bundle a challenger as a signed release the backend can deploy (same bytes, same ref)."""
    service = known_service(ctx, given.service)
    folder = challenger(ctx, service, given.artifact_dir)
    try:
        info = ReleaseRegistry(Path(ctx.tools.state_dir)).build(service, folder)
        trust = ctx.tools.workloads.releases.inspect(info.ref, service, None)
    except ControlPlaneError as exc:
        raise ActionFailed(f"release of {folder}: {exc.message}", retryable=False) from None
    if trust.audit is None:  # the catalog runs images: a local bundle is not deployable here
        raise ActionFailed(
            f"the workload backend does not run local bundles ({trust.reason}); build an "
            "image of the challenger in CI instead",
            error="not_deployable",
            retryable=False,
        )
    ctx.note(f"built {info.ref} ({info.manifest.model_version})")
    return BuildOut(
        release=info.ref,
        model_version=info.manifest.model_version,
        digest=info.digest,
        audit_passed=info.audit.passed,
        findings=list(info.audit.findings),
    )


def actions() -> list[Action[Any, Any]]:
    """The training and release actions."""
    return [
        Action("model.train", "retrain", "train a challenger with the service's own trainer",
               TrainIn, TrainOut, train),
        Action("release.build", "build", "bundle a challenger as a deployable release",
               BuildIn, BuildOut, build),
    ]  # fmt: skip
