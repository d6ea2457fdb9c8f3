"""Load on a local target's stable address: through its front, steady and during rollouts.

Run: .venv/bin/python bench/stable_address.py [--duration 20] [--users 32]
Trains two bankchurn releases, deploys one with the local backend, then drives POST /predict with
closed-loop keep-alive clients (the raw asyncio client of services_load.py) for --duration
seconds each: (1) at the process's own port (baseline, no front), (2) at the stable address on a
steady release, (3) at the stable address while the backend rolls v1 <-> v2 back to back. The
ratios compare runs of the same process on the same machine in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services_load import Target, encode, payloads, worker  # noqa: E402

from controlplane.adapters.base import Release  # noqa: E402
from controlplane.adapters.base import Target as Workload  # noqa: E402
from controlplane.adapters.workload.local import LocalBackend  # noqa: E402

PREDICT = Target("bankchurn", "bankchurn", "threadpool", "POST", "/predict")
WORKLOAD = Workload("bankchurn", "bench")


def train(root: Path) -> list[Release]:
    """Two small bankchurn bundles (seeds 1 and 2) as local releases."""
    import hashlib

    out = []
    for seed in (1, 2):
        folder = root / f"v{seed}"
        subprocess.run(
            [sys.executable, "-m", "services.bankchurn.train", "--out", str(folder),
             "--seed", str(seed), "--rows", "3000"],
            cwd=ROOT, check=True, capture_output=True, timeout=600,
        )  # fmt: skip
        digest = hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
        out.append(Release(f"bankchurn@sha256:{digest}", artifact=str(folder)))
    return out


async def load(url: str, users: int, duration: float) -> dict[str, float]:
    """`users` closed-loop clients on `url` for `duration` seconds: rate, latency, errors."""
    latencies: list[float] = []
    errors: list[int] = []
    host, port = url.removeprefix("http://").split(":")
    requests = [encode(PREDICT, body) for body in payloads("bankchurn", 200)]
    deadline = time.monotonic() + duration
    started = time.monotonic()
    await asyncio.gather(
        *(worker((host, int(port)), requests, deadline, latencies, errors) for _ in range(users))
    )
    lat = np.array(latencies) * 1000
    return {
        "rps": len(lat) / (time.monotonic() - started),
        "p50": float(np.percentile(lat, 50)),
        "p99": float(np.percentile(lat, 99)),
        "errors": float(len(errors)),
        "n": float(len(lat)),
    }


def during_rollouts(
    backend: LocalBackend, releases: list[Release], url: str, users: int, duration: float
) -> tuple[dict[str, float], int]:
    """Load the address while a thread rolls the releases back and forth; count rollouts."""
    stop = threading.Event()
    done: list[bool] = []

    def roll() -> None:
        time.sleep(0.5)
        i = 1
        while not stop.is_set():
            done.append(backend.deploy(WORKLOAD, releases[i % 2]).ok)
            i += 1

    thread = threading.Thread(target=roll)
    thread.start()
    try:
        result = asyncio.run(load(url, users, duration))
    finally:
        stop.set()
        thread.join(120)
    assert all(done), "a rollout failed"
    return result, len(done)


def run(duration: float, users: int) -> tuple[dict[str, dict[str, float]], int]:
    """The three runs on one backend in a temporary state folder."""
    with tempfile.TemporaryDirectory() as tmp:
        releases = train(Path(tmp))
        backend = LocalBackend(Path(tmp) / "state", base_port=0, stop_grace_s=10)
        try:
            first = backend.deploy(WORKLOAD, releases[0])
            assert first.ok, first.reason
            rows = {
                "process port (baseline)": asyncio.run(
                    load(first.details["backend_url"], users, duration)
                ),
                "stable address, steady": asyncio.run(load(str(first.url), users, duration)),
            }
            rows["stable address, rollouts"], rollouts = during_rollouts(
                backend, releases, str(first.url), users, duration
            )
        finally:
            backend.stop_all()
    return rows, rollouts


def markdown(rows: dict[str, dict[str, float]], rollouts: int, duration: float, users: int) -> str:
    """The section for bench/RESULTS.md."""
    base, steady = rows["process port (baseline)"], rows["stable address, steady"]
    rolling = rows["stable address, rollouts"]
    head = [
        "## Stable address during rollouts (`bench/stable_address.py`)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPU(s), Python "
        f"{platform.python_version()}: bankchurn POST /predict, {users} closed-loop keep-alive "
        f"clients, {duration:g} s per row; the rollout row saw {rollouts} back-to-back blue/green "
        "rollouts (v1 <-> v2). Client, front and service share the machine.",
        "",
        "| run | req/s | p50 ms | p99 ms | requests | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    body = [
        f"| {name} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['n']:.0f} | "
        f"{r['errors']:.0f} |"
        for name, r in rows.items()
    ]
    ratios = [
        "",
        f"The front costs {1 - steady['rps'] / base['rps']:.0%} of the throughput of calling the "
        f"process directly (steady {steady['rps'] / base['rps']:.2f}x baseline); during rollouts "
        f"the address serves {rolling['rps'] / steady['rps']:.2f}x its steady rate with "
        f"{rolling['errors']:.0f} errors.",
    ]
    return "\n".join(head + body + ratios) + "\n"


def main() -> None:
    """Command line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=20.0, help="seconds per run")
    p.add_argument("--users", type=int, default=32)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS-stable.md")
    args = p.parse_args()
    rows, rollouts = run(args.duration, args.users)
    text = markdown(rows, rollouts, args.duration, args.users)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
