"""MCP `decide` round trip over stdio (`opsctl mcp`, the SDK's client) vs the same call over the
HTTP client, one call at a time, against the same plane in the same run.

The plane runs in its own process (one uvicorn worker, SQLite, audit writer process). The MCP
server is spawned as an agent would spawn it; both sides ask the same question as the same
agent identity, alternating A/B/A/B so machine noise hits both alike. Every call is an audited
decision; the count of records is checked afterwards.
Usage: .venv/bin/python bench/mcp_roundtrip.py [--calls 400] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from harness import REPO, free_port, server

from controlplane.client import ControlPlaneClient

ARGS = {"operation": "deploy", "environment": "dev", "service": "bankchurn"}
AGENT = "bench-mcp-agent"
PLANE = """
import uvicorn
from controlplane.app import create_app, tune_gc
from controlplane.config import Settings
app = create_app(Settings(state_dir={state!r}, policy_dir={policies!r}))
tune_gc()
uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning", access_log=False)
"""


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) in ms."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000


def over_http(client: ControlPlaneClient, calls: int) -> list[float]:
    """Latencies of `calls` sequential decisions through the HTTP client."""
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        client.decide(ARGS["operation"], ARGS["environment"], ARGS["service"])
        out.append(time.perf_counter() - start)
    return out


def over_mcp(url: str, token: str, calls: int) -> tuple[list[float], float]:
    """Latencies of `calls` sequential `decide` tool calls over stdio, and the start-up time."""
    from mcp import Client, StdioServerParameters

    opsctl = Path(sys.executable).with_name("opsctl")
    command = [str(opsctl), "mcp"] if opsctl.exists() else [
        sys.executable, "-m", "controlplane.cli.main", "mcp"]  # fmt: skip
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "CONTROLPLANE_URL": url,
           "CONTROLPLANE_TOKEN": token}  # fmt: skip
    params = StdioServerParameters(command=command[0], args=command[1:], env=env, cwd=str(REPO))

    async def main() -> tuple[list[float], float]:
        started = time.perf_counter()
        async with Client(params) as mcp:
            await mcp.list_tools()
            ready = time.perf_counter() - started
            out = []
            for _ in range(calls):
                start = time.perf_counter()
                result = await mcp.call_tool("decide", ARGS)
                out.append(time.perf_counter() - start)
                assert not result.is_error, result.content
        return out, ready

    return anyio.run(main)


def count_records(admin: ControlPlaneClient) -> int:
    """How many decisions the audit log holds for the bench agent (paged)."""
    total, cursor = 0, None
    while True:
        page = admin.audit(actor=AGENT, operation="deploy", limit=1000, cursor=cursor)
        total += page["count"]
        cursor = page["next_cursor"]
        if cursor is None or not page["data"]:
            return total


def run(calls: int, rounds: int) -> str:
    """Measure both paths and return a markdown section."""
    state = Path(tempfile.mkdtemp(prefix="bench-mcp-"))
    port = free_port()
    code = PLANE.format(state=str(state), policies=str(REPO / "policies"), port=port)
    url = f"http://127.0.0.1:{port}"
    with server(code, port):
        admin = ControlPlaneClient(url, (state / "admin.token").read_text().strip())
        token = admin.create_token(AGENT, "agent", ["operator"])["token"]
        http: list[float] = []
        mcp: list[float] = []
        startups: list[float] = []
        with ControlPlaneClient(url, token) as client:
            over_http(client, 20)  # warm both sides' connection and caches
            for _ in range(rounds):
                http += over_http(client, calls)
                lat, ready = over_mcp(url, token, calls)
                mcp += lat
                startups.append(ready)
        recorded = count_records(admin)
        verify = admin.verify_audit()
        admin.close()
    shutil.rmtree(state, ignore_errors=True)
    ratio = statistics.median(mcp) / statistics.median(http)
    rows = [(name, lat) for name, lat in (("HTTP client (`client.decide`)", http),
                                          ("MCP over stdio (`decide` tool)", mcp))]  # fmt: skip
    lines = [
        f"### MCP `decide` round trip over stdio vs the HTTP client ({calls} sequential calls x "
        f"{rounds} rounds each, A/B alternating)",
        "",
        "| path | calls/s (sequential) | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
        *[
            f"| {name} | {len(lat) / sum(lat):,.0f} | {pct(lat, 50):.2f} | {pct(lat, 99):.2f} |"
            for name, lat in rows
        ],
        "",
        f"- MCP / HTTP p50 latency: **{ratio:.2f}x** (the MCP path is the HTTP call plus JSON-RPC "
        "over two pipes, argument validation, a worker thread and the answer's shaping)",
        f"- `opsctl mcp` start-up to first tools/list: "
        f"{', '.join(f'{s:.2f}' for s in startups)} s (imports, whoami, policy and playbooks read)",
        f"- every call is an audited decision under the agent: {recorded:,} records for "
        f"{len(http) + len(mcp) + 20:,} calls (incl. 20 warm-up); chain verified: "
        f"**{verify['ok']}** ({verify['summary']})",
    ]
    return "\n".join(lines)


def main() -> None:
    """Run and write bench/RESULTS-mcp.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS-mcp.md")
    args = parser.parse_args()
    section = run(args.calls, args.rounds)
    args.out.write_text(section + "\n")
    print(section)


if __name__ == "__main__":
    main()
