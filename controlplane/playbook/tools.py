"""What actions may use: the plane's own services and the adapters, built once per plane.

Actions get this object as `ctx.tools`; they never build SDK clients or read the app's wiring.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine

from controlplane.audit.recorder import Recorder
from controlplane.clock import Clock
from controlplane.governance.service import Door
from controlplane.workload.wiring import Workloads


class ServiceHttp(Protocol):
    """GET/POST JSON on an ML service's address (its stable URL from the workload backend)."""

    def get_json(self, url: str, *, timeout_s: float = 10.0) -> Any:
        """GET and decode JSON; raise on a non-2xx answer with its status and body."""
        ...


@dataclass(frozen=True)
class Tools:
    """The collaborators of every action."""

    engine: Engine  # read-only queries (writes go through ctx.session, committed with the step)
    clock: Clock
    audit: Recorder
    door: Door
    workloads: Workloads
    http: ServiceHttp
    secrets: Any  # controlplane.adapters.secrets.SecretStore
    silencer: Any  # controlplane.adapters.silence.AlertSilencer
    notifier: Any  # controlplane.adapters.notify.Notifier
    settings: Any  # controlplane.config.Settings (deployment requests read their gates)
    state_dir: Path  # where challengers are trained
    python: str  # the interpreter that runs the services' training and validation
    known_services: tuple[str, ...] = ("bankchurn", "nlpinsight", "chicagotaxi")
