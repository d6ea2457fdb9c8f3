"""Audited decisions per second over HTTP vs a bare FastAPI endpoint returning the same JSON.

Both servers run one uvicorn worker in their own process on loopback; wrk (one thread) drives
32 connections at each in turn in the same run. After the run the plane's audit chain is
verified and the number of records is compared with the 200 responses wrk counted.
Usage: .venv/bin/python bench/http_decisions.py [--seconds 15] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import httpx
from harness import REPO, free_port, merge, rss_mib, server, tree_rss_mib, wrk_post

BODY = {"operation": "deploy", "environment": "dev", "service": "bankchurn"}

PLANE = """
import logging, uvicorn
from controlplane.app import create_app, tune_gc
from controlplane.config import Settings
app = create_app(Settings(state_dir={state!r}, policy_dir={policies!r}))
tune_gc()  # as `opsctl up` does
uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning", access_log=False)
"""

BARE = """
import gc, json, uvicorn
from typing import Any
from fastapi import FastAPI
from pydantic import BaseModel
SAMPLE = json.loads({sample!r})
class Req(BaseModel):
    operation: str
    environment: str
    service: str | None = None
    context: dict[str, Any] = {{}}
app = FastAPI()
gc.collect(); gc.freeze(); gc.set_threshold(50_000, 20, 100)  # same tuning as the plane
@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {{"status": "ok"}}
@app.post("/v1/decisions")
async def decide(req: Req) -> dict[str, Any]:
    return SAMPLE
uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning", access_log=False)
"""


def run(seconds: int, connections: int) -> str:
    """Measure both servers and return a markdown section."""
    state = Path(tempfile.mkdtemp(prefix="bench-plane-"))
    port, bare_port = free_port(), free_port()
    plane_code = PLANE.format(state=str(state), policies=str(REPO / "policies"), port=port)
    with server(plane_code, port) as proc:
        token = (state / "admin.token").read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        url = f"http://127.0.0.1:{port}"
        time.sleep(1.0)
        idle_rss, idle_tree = rss_mib(proc.pid), tree_rss_mib(proc.pid)
        sample = httpx.post(f"{url}/v1/decisions", json=BODY, headers=headers).json()
        with server(BARE.format(sample=json.dumps(sample), port=bare_port), bare_port):
            # Alternate A/B/A/B so drift in machine load hits both sides alike.
            half = max(1, seconds // 2)
            runs = {"bare": [], "ours": []}
            for _ in range(2):
                runs["bare"].append(
                    wrk_post(
                        f"http://127.0.0.1:{bare_port}/v1/decisions",
                        BODY,
                        "x",
                        connections=connections,
                        seconds=half,
                    )
                )
                runs["ours"].append(
                    wrk_post(
                        f"{url}/v1/decisions", BODY, token, connections=connections, seconds=half
                    )
                )
        loaded_rss, loaded_tree = rss_mib(proc.pid), tree_rss_mib(proc.pid)
        time.sleep(0.5)
        verify = httpx.get(f"{url}/v1/audit/verify", headers=headers, timeout=600).json()
    shutil.rmtree(state, ignore_errors=True)  # ~200 MB of audit log per run
    bare, ours = merge(runs["bare"]), merge(runs["ours"])
    completed_ok = ours.requests - ours.non_2xx
    records = verify["records"] - 1  # minus the sample decision
    ratio = ours.rps / bare.rps
    lines = [
        f"### Audited decisions over HTTP ({connections} connections, {seconds} s each, "
        "A/B/A/B, wrk -t1)",
        "",
        "| server | req/s | p50 ms (worse half) | p99 ms (worse half) | non-2xx | socket errors |",
        "|---|---:|---:|---:|---:|---:|",
        f"| bare FastAPI, same JSON, no policy/audit | {bare.rps:,.0f} | {bare.p50_ms:.2f} | "
        f"{bare.p99_ms:.2f} | {bare.non_2xx} | {bare.socket_errors} |",
        "| control plane: auth + signals + decide + audit append (SQLite, fsync, writer process) | "
        f"{ours.rps:,.0f} | "
        f"{ours.p50_ms:.2f} | {ours.p99_ms:.2f} | {ours.non_2xx} | {ours.socket_errors} |",
        "",
        f"- ours / bare throughput: **{ratio:.0%}** (goal >= 50%); ours p99 {ours.p99_ms:.1f} ms "
        f"(goal <= 25 ms); p99 per run: ours "
        f"{', '.join(f'{r.p99_ms:.1f}' for r in runs['ours'])} ms, bare "
        f"{', '.join(f'{r.p99_ms:.1f}' for r in runs['bare'])} ms",
        f"- 200 responses counted by wrk: {completed_ok:,}; audit records written: {records:,} "
        f"(records >= responses means none lost; extra ones are requests in flight when wrk "
        f"stopped); chain verified: **{verify['ok']}** ({verify['summary']}); problems: "
        f"{len(verify['problems'])}",
        f"- plane RSS: idle {idle_rss:.0f} MiB, after the run {loaded_rss:.0f} MiB; with its "
        f"audit writer process: idle {idle_tree:.0f} MiB, after the run {loaded_tree:.0f} MiB",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS-http.md")
    args = parser.parse_args()
    section = run(args.seconds, args.connections)
    args.out.write_text(section + "\n")
    print(section)
