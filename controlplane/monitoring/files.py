"""Write the Prometheus and Alertmanager configuration (`ops/`, or a state folder's copy).

`python -m controlplane.monitoring.files` rewrites the committed `ops/` files from
`controlplane.monitoring.config`. With `--state-dir DIR --out DIR/monitoring` it writes a copy
whose targets are the ports the local backend really handed out (its `workloads/state.json`)
and whose paths are absolute: what `opsctl up --monitoring` starts Prometheus and Alertmanager
with.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from controlplane.monitoring import config

REPO = Path(__file__).resolve().parents[2]
OPS = REPO / "ops"
RULES_DIR = OPS / "prometheus" / "rules"
PROMETHEUS_FILE = Path("prometheus") / "prometheus.yml"
ALERTMANAGER_FILE = Path("alertmanager") / "alertmanager.yml"
# ops/alertmanager/ -> the repo's default state folder (Alertmanager resolves it from the file)
COMMITTED_TOKEN_FILE = f"../../.controlplane/{config.TOKEN_FILE}"

DEFAULT_LAYOUT = (
    "Targets: the local backend's default front ports, dev 8800-8802, staging 8803-8805,",
    "production 8806-8808 (bankchurn, nlpinsight, chicagotaxi), true when each environment's",
    "services were first deployed in that order; for the ports really handed out, run",
    "  python -m controlplane.monitoring.files --state-dir .controlplane",
    "which writes .controlplane/monitoring/.",
)
ROUTING = (
    "Every alert goes to the plane's webhook (incidents, the incident_active signal), grouped by",
    "alertname/service/environment. group_wait 10s: a fresh P1 escalates decisions within about",
    "one evaluation instead of 30 s; group_interval 1m: resolutions close incidents within a",
    "minute; repeat_interval 1h: a plane that missed a notification catches up.",
)
COMMITTED_TOKEN = (
    f"Bearer token file: <state dir>/{config.TOKEN_FILE}, here relative to this file (the repo's",
    ".controlplane/); Alertmanager reads it at each notification.",
)


@dataclass(frozen=True)
class Rendered:
    """Both documents as text, ready to write under an output folder."""

    prometheus: str
    alertmanager: str

    def items(self) -> list[tuple[Path, str]]:
        """(relative path, text) of each file."""
        return [(PROMETHEUS_FILE, self.prometheus), (ALERTMANAGER_FILE, self.alertmanager)]


def committed() -> Rendered:
    """What `ops/` must hold: default targets, relative rule and token paths."""
    prometheus = config.prometheus_config(config.default_targets(), rule_files=["rules/*.yml"])
    alertmanager = config.alertmanager_config(
        plane_url=f"http://{config.PLANE_ADDRESS}", token_file=COMMITTED_TOKEN_FILE
    )
    return Rendered(
        config.render(prometheus, about=DEFAULT_LAYOUT),
        config.render(alertmanager, about=ROUTING + COMMITTED_TOKEN),
    )


def for_state(
    state_dir: Path, *, plane_url: str, alertmanager_address: str = config.ALERTMANAGER_ADDRESS
) -> Rendered:
    """A copy for a running local plane: its real front ports, absolute rule and token paths."""
    state_dir = state_dir.resolve()
    targets = targets_in(state_dir)
    prometheus = config.prometheus_config(
        targets,
        rule_files=[str(RULES_DIR / "*.yml")],
        plane_address=urlsplit(plane_url).netloc,
        alertmanager_address=alertmanager_address,
    )
    alertmanager = config.alertmanager_config(
        plane_url=plane_url, token_file=str(state_dir / config.TOKEN_FILE)
    )
    about = (f"Targets: the front ports recorded in {state_dir / 'workloads' / 'state.json'}",)
    return Rendered(
        config.render(prometheus, about=about), config.render(alertmanager, about=ROUTING)
    )


def targets_in(state_dir: Path) -> list[config.ScrapeTarget]:
    """Targets from the local backend's state file; none when nothing was ever deployed."""
    path = state_dir / "workloads" / "state.json"
    if not path.exists():
        return []
    return config.targets_from_state(json.loads(path.read_text()))


def write(out: Path, rendered: Rendered) -> list[Path]:
    """Write each file atomically (a running Prometheus may re-read it at any moment)."""
    written = []
    for relative, text in rendered.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite `ops/` (default), or write a state folder's copy with `--state-dir`."""
    parser = argparse.ArgumentParser(prog="python -m controlplane.monitoring.files")
    parser.add_argument("--state-dir", type=Path, help="read real ports from this state folder")
    parser.add_argument("--out", type=Path, help="output folder (ops/, or STATE_DIR/monitoring)")
    parser.add_argument("--plane-url", default=f"http://{config.PLANE_ADDRESS}")
    args = parser.parse_args(argv)
    if args.state_dir is not None:
        rendered = for_state(args.state_dir, plane_url=args.plane_url)
        out = args.out or args.state_dir / "monitoring"
    else:
        rendered, out = committed(), args.out or OPS
    for path in write(out, rendered):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
