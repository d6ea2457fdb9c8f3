"""Where the ML actions find things: the model serving a target, its prediction log, challengers.

What serves comes from the workload backend, what that release holds from the release catalog
(the local bundles keep the artifact folder, with the model and its training baseline); the
prediction log from a backend that keeps it where the plane can read it (the local backend);
challengers are trained under `<state dir>/challengers/<service>/`, and the gates and the release
build only take folders from there (a playbook input must not point them at any pickle on disk).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from controlplane.adapters.base import PredictionLogs, Target
from controlplane.errors import ControlPlaneError
from controlplane.playbook.actions.base import ActionFailed, StepContext

if TYPE_CHECKING:
    from services.common.models import Manifest
    from services.common.serving import ServiceSpec

NAME_PATTERN = r"^[a-z][a-z0-9-]*$"
SERVICE = Field(pattern=NAME_PATTERN, max_length=63)
ENV = Field(default="production", pattern=NAME_PATTERN, max_length=63)
CHALLENGERS = "challengers"


@dataclass(frozen=True)
class Served:
    """The release serving a target and the artifact folder it runs."""

    target: Target
    release: str
    state: str
    artifact: Path


def known_service(ctx: StepContext, service: str) -> str:
    """The service, if the plane manages it (its code is what the ML actions run)."""
    known: tuple[str, ...] = tuple(ctx.tools.known_services)
    if service not in known:
        raise ActionFailed(
            f"unknown service {service!r}; known: {', '.join(known)}",
            error="bad_input",
            retryable=False,
        )
    return service


def served(ctx: StepContext, service: str, environment: str) -> Served | None:
    """What serves `service` in `environment` and its artifact folder; None when nothing does."""
    target = Target(service, environment)
    status = ctx.tools.workloads.backend.status(target)
    if status.release is None:
        return None
    try:
        release = ctx.tools.workloads.releases.resolve(status.release)
    except ControlPlaneError as exc:
        raise ActionFailed(
            f"{status.release} serves {target.key} but cannot be read: {exc.message}",
            error="release_unusable",
            retryable=False,
        ) from None
    if not release.artifact:
        raise ActionFailed(
            f"{status.release} serves {target.key} without an artifact folder the plane can "
            "read (an image keeps its model and baseline inside)",
            error="no_artifact",
            retryable=False,
        )
    return Served(target, status.release, status.state, Path(release.artifact))


def prediction_log(ctx: StepContext, target: Target) -> Path:
    """The folder of the target's prediction log; refused on a backend that keeps none."""
    backend = ctx.tools.workloads.backend
    if not isinstance(backend, PredictionLogs):
        raise ActionFailed(
            f"the {backend.name} backend keeps no prediction log the plane can read",
            error="no_prediction_log",
            retryable=False,
        )
    return backend.prediction_log(target)


def challengers_root(ctx: StepContext, service: str) -> Path:
    """Where this plane trains challengers of `service`."""
    return Path(ctx.tools.state_dir) / CHALLENGERS / service


def challenger(ctx: StepContext, service: str, given: str) -> Path:
    """A challenger folder this plane trained for `service` (nothing outside that folder)."""
    root = challengers_root(ctx, service).resolve()
    path = Path(given).resolve()
    if root not in path.parents:
        raise ActionFailed(
            f"{given} is not a challenger of {service} trained here (under {root})",
            error="bad_input",
            retryable=False,
        )
    if not path.is_dir():
        raise ActionFailed(f"no challenger at {given}", error="bad_input", retryable=False)
    return path


def read_manifest(folder: Path, service: str) -> Manifest:
    """The artifact's manifest (metrics, baseline, training), refused when it is not `service`'s."""
    from services.common.artifact import ArtifactError
    from services.common.artifact import read_manifest as read

    try:
        manifest = read(folder)
    except ArtifactError as exc:
        raise ActionFailed(str(exc), error="bad_artifact", retryable=False) from None
    if manifest.service != service:
        raise ActionFailed(
            f"the artifact in {folder} is for {manifest.service}, not {service}",
            error="bad_artifact",
            retryable=False,
        )
    return manifest


def service_spec(service: str) -> ServiceSpec:
    """The service's own runtime spec: how its log becomes drift columns, its drift bands."""
    module: Any = importlib.import_module(f"services.{service}.spec")
    spec: ServiceSpec = module.SPEC
    return spec
