"""What the plane adds to a deployment, and how long a local rollout takes to be healthy.

Part 1, in-process, no rollout (in-memory backend): the full request path of
`POST /v1/deployments` below HTTP (decision with live signals, ordered gates, history lookup,
deployment row, approval request, audit records, one commit) against a baseline that only
inserts the deployment row and commits. Each is timed per request; p50/p99 reported.
Part 2, real processes: request -> healthy new bankchurn release on the local backend
(process start, /ready, health window, switch, stop old), against the baseline of starting
the same service process by hand and polling /ready.
Usage: .venv/bin/python bench/deploy_overhead.py [--requests 300] [--rollouts 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from harness import REPO, free_port
from sqlmodel import Session

from controlplane.adapters.workload.fake import FakeWorkloadBackend
from controlplane.config import Settings
from controlplane.context import build_context
from controlplane.deploy import service as deployments
from controlplane.deploy.models import Deployment
from controlplane.handoff.models import DeploymentRequest
from controlplane.identity.models import Principal

AGENT = Principal("bench", "bench-agent", "agent", frozenset({"operator"}))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def gate_overhead(n: int) -> tuple[list[float], list[float]]:
    """Seconds per request: the governed path vs a bare insert + commit, same database."""
    state = Path(tempfile.mkdtemp(prefix="bench-deploy-"))
    ctx = build_context(
        Settings(state_dir=state, policy_dir=REPO / "policies"), workloads=FakeWorkloadBackend()
    )
    ours, bare = [], []
    for i in range(n):
        request = DeploymentRequest(
            service="bankchurn", environment="dev", release=f"bankchurn@sha256:{i:064x}"
        )
        start = time.perf_counter()
        with Session(ctx.engine) as session:
            deployments.request_deployment(
                session=session,
                door=ctx.door,
                workloads=ctx.workloads,
                settings=ctx.settings,
                principal=AGENT,
                request=request,
            )
            session.commit()
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        with Session(ctx.engine) as session:
            session.add(
                Deployment(
                    id=uuid.uuid4().hex, service="bankchurn", environment="dev",
                    release=str(request.release), request_hash="0" * 64, requested_by="bench",
                    requested_kind="agent", status="approved", created_at=datetime.now(UTC),
                )
            )  # fmt: skip
            session.commit()
        bare.append(time.perf_counter() - start)
    ctx.close()
    return ours, bare


def _train(out: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "services.bankchurn.train", "--out", str(out), "--seed", "5",
         "--rows", "2000"],
        cwd=REPO, check=True, capture_output=True,
    )  # fmt: skip


def raw_start(artifact: Path) -> float:
    """Seconds from spawning the service by hand to /ready answering 200."""
    port = free_port()
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.bankchurn", "--port", str(port), "--artifact",
         str(artifact)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    return time.perf_counter() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def governed_rollouts(artifacts: list[Path]) -> list[float]:
    """Seconds from the deployment request to `succeeded` on the local backend."""
    from controlplane.adapters.workload.local import LocalBackend
    from controlplane.release.registry import ReleaseRegistry

    state = Path(tempfile.mkdtemp(prefix="bench-rollout-"))
    settings = Settings(state_dir=state, policy_dir=REPO / "policies", health_window_s=1.0)
    registry = ReleaseRegistry(state, repo_root=REPO)
    refs = [registry.build("bankchurn", a).ref for a in artifacts]
    backend = LocalBackend(state)
    ctx = build_context(settings, workloads=backend)
    times = []
    try:
        for ref in refs:
            request = DeploymentRequest(service="bankchurn", environment="dev", release=ref)
            start = time.perf_counter()
            with Session(ctx.engine) as session:
                dep = deployments.request_deployment(
                    session=session,
                    door=ctx.door,
                    workloads=ctx.workloads,
                    settings=ctx.settings,
                    principal=AGENT,
                    request=request,
                )
                dep_id = dep.id
                session.commit()
            done = ctx.executor.execute(deployment_id=dep_id, actor=AGENT)
            times.append(time.perf_counter() - start)
            if done.status != "succeeded":
                raise SystemExit(f"rollout failed: {done.failure_reason}")
    finally:
        backend.stop_all()
        ctx.close()
    return times


def run(requests: int, rollouts: int) -> str:
    """Measure both parts and return a markdown section."""
    ours, bare = gate_overhead(requests)
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = []
        for i in range(rollouts):
            _train(Path(tmp) / f"a{i}")
            artifacts.append(Path(tmp) / f"a{i}")
        raw = [raw_start(a) for a in artifacts]
        governed = governed_rollouts(artifacts)
    med = statistics.median
    return "\n".join(
        [
            f"### Deployment overhead ({requests} requests) and local rollout time",
            "",
            "| path | p50 ms | p99 ms |",
            "|---|---:|---:|",
            f"| bare: insert the deployment row + commit | {_pct(bare, 0.5):.2f} | "
            f"{_pct(bare, 0.99):.2f} |",
            f"| ours: decision + gates + history + row + audit + commit (no rollout) | "
            f"{_pct(ours, 0.5):.2f} | {_pct(ours, 0.99):.2f} |",
            "",
            f"- governed request overhead, p50: **{_pct(ours, 0.5) / _pct(bare, 0.5):.1f}x** "
            "the bare "
            "insert (both commit once with fsync; the extra is the decision, gates and audit rows)",
            "",
            "| local rollout of bankchurn (real process) | median s | runs |",
            "|---|---:|---:|",
            f"| baseline: spawn the service by hand until /ready | {med(raw):.2f} | {len(raw)} |",
            f"| ours: request -> gates -> start new -> /ready -> health window (1 s) -> switch "
            f"-> stop old -> succeeded | {med(governed):.2f} | {len(governed)} |",
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rollouts", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS-deploy.md")
    args = parser.parse_args()
    section = run(args.requests, args.rollouts)
    args.out.write_text(section + "\n")
    print(section)
