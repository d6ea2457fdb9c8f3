"""Load-test the three ML services on loopback; bankchurn also with inference on the event loop.

Run: .venv/bin/python bench/services_load.py [--duration 30] [--out bench/RESULTS-services.md]
Trains each service into a temporary folder, starts it as `python -m services.<name>`, drives it
with 32 and 100 concurrent keep-alive clients for --duration seconds each, probes /health during
the load (what a liveness probe would see), and writes a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.bankchurn import data as churn_data  # noqa: E402
from services.nlpinsight import data as nlp_data  # noqa: E402

CLIENT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Target:
    """One server configuration and the request it is loaded with."""

    label: str
    service: str
    inference: str
    method: str
    path: str
    batch: int = 0


TARGETS = (
    Target("bankchurn (thread pool)", "bankchurn", "threadpool", "POST", "/predict"),
    Target("bankchurn (event loop)", "bankchurn", "loop", "POST", "/predict"),
    Target(
        "bankchurn batch of 100 (thread pool)",
        "bankchurn",
        "threadpool",
        "POST",
        "/predict_batch",
        100,
    ),
    Target(
        "bankchurn batch of 100 (event loop)", "bankchurn", "loop", "POST", "/predict_batch", 100
    ),
    Target("nlpinsight", "nlpinsight", "threadpool", "POST", "/predict"),
    Target("chicagotaxi /demand", "chicagotaxi", "threadpool", "GET", "/demand"),
)


def payloads(service: str, n: int = 500) -> list[dict]:
    """Schema-valid request bodies or query params (never load-test a payload that 422s)."""
    if service == "bankchurn":
        cols, _ = churn_data.generate(n, seed=7)
        rows = zip(*cols.values(), strict=True)
        return [
            {k: (v.item() if hasattr(v, "item") else v) for k, v in zip(cols, r, strict=True)}
            | {"Balance": float(r[5]), "EstimatedSalary": float(r[9])}
            for r in rows
        ]
    if service == "nlpinsight":
        return [{"text": t} for t in nlp_data.generate(n, seed=7)[0]]
    rng = random.Random(7)
    return [{"area": rng.randint(1, 77), "limit": 50} for _ in range(n)]


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    """Peak resident set size of a process (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def train_all(root: Path) -> dict[str, Path]:
    """Train each service at its default size with seed 42."""
    out = {}
    for service in ("bankchurn", "nlpinsight", "chicagotaxi"):
        out[service] = root / service
        subprocess.run(
            [
                sys.executable,
                "-m",
                f"services.{service}.train",
                "--out",
                str(out[service]),
                "--seed",
                "42",
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=600,
        )
    return out


def start(target: Target, artifact: Path, log_dir: Path) -> tuple[subprocess.Popen, str]:
    """Start the service and wait (bounded) until /ready is 200."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            f"services.{target.service}",
            "--port",
            str(port),
            "--artifact",
            str(artifact),
            "--log-dir",
            str(log_dir),
            "--inference",
            target.inference,
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/ready").status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{target.label} did not become ready")


class Connection:
    """A minimal HTTP/1.1 keep-alive client, so the load generator is not the bottleneck."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> int:
        """Send one pre-encoded request and read the whole response; returns the status."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        """Drop the connection (after an error, so the next request reconnects)."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def encode(target: Target, body: dict) -> bytes:
    """Pre-encode one request so the clients spend no time building it."""
    if target.method == "GET":
        query = "&".join(f"{k}={v}" for k, v in body.items())
        return f"GET {target.path}?{query} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    data = json.dumps(body).encode()
    head = (
        f"POST {target.path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


async def worker(addr, requests, deadline, latencies, errors) -> None:
    """One closed-loop client: send, wait, record, repeat until the deadline."""
    conn = Connection(*addr)
    i = random.randrange(len(requests))
    while time.monotonic() < deadline:
        raw = requests[i % len(requests)]
        i += 1
        t0 = time.perf_counter()
        try:
            ok = await asyncio.wait_for(conn.request(raw), CLIENT_TIMEOUT_S) == 200
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            ok = False
            conn.close()
        latencies.append(time.perf_counter() - t0)
        if not ok:
            errors.append(1)
    conn.close()


async def probe(addr, deadline: float, out: list[float]) -> None:
    """A liveness probe every 200 ms on its own connection, as a kubelet would send."""
    conn = Connection(*addr)
    raw = b"GET /health HTTP/1.1\r\nHost: probe\r\n\r\n"
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        try:
            await asyncio.wait_for(conn.request(raw), CLIENT_TIMEOUT_S)
            out.append(time.perf_counter() - t0)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            out.append(CLIENT_TIMEOUT_S)
            conn.close()
        await asyncio.sleep(0.2)
    conn.close()


async def load(target: Target, base: str, users: int, duration: float, bodies) -> dict:
    """Drive `users` concurrent clients for `duration` seconds and summarise."""
    latencies: list[float] = []
    errors: list[int] = []
    probes: list[float] = []
    host, port = base.removeprefix("http://").split(":")
    addr = (host, int(port))
    requests = [encode(target, b) for b in bodies]
    deadline = time.monotonic() + duration
    t0 = time.monotonic()
    await asyncio.gather(
        probe(addr, deadline, probes),
        *(worker(addr, requests, deadline, latencies, errors) for _ in range(users)),
    )
    elapsed = time.monotonic() - t0
    lat = np.array(latencies) * 1000
    return {
        "rps": len(lat) / elapsed,
        "p50": np.percentile(lat, 50),
        "p99": np.percentile(lat, 99),
        "errors": len(errors) / max(len(lat), 1),
        "n": len(lat),
        "probe_p99": np.percentile(np.array(probes) * 1000, 99) if probes else float("nan"),
    }


def run(duration: float, users_list: list[int]) -> list[tuple[Target, int, dict, float]]:
    """Every target at every concurrency, one server process per target."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = train_all(Path(tmp))
        for target in TARGETS:
            bodies = payloads(target.service)
            if target.batch:
                bodies = [{"customers": bodies[i : i + target.batch]} for i in range(0, 400, 50)]
            proc, base = start(target, artifacts[target.service], Path(tmp) / "logs")
            try:
                for users in users_list:
                    result = asyncio.run(load(target, base, users, duration, bodies))
                    rows.append((target, users, result, peak_rss_mb(proc.pid)))
                    print(target.label, users, {k: round(v, 3) for k, v in result.items()})
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    return rows


def markdown(rows, duration: float) -> str:
    """The results section for bench/RESULTS.md."""
    head = [
        "## ML services under load (`bench/services_load.py`)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPU(s), "
        f"Python {platform.python_version()}, {duration:g} s per row, loopback, one uvicorn "
        "worker per service, closed-loop keep-alive clients in a separate process on "
        "the same machine (a raw asyncio HTTP/1.1 client). "
        "Seed's criterion: < 1% errors at 100 users.",
        "",
        "| service | users | req/s | p50 ms | p99 ms | errors | /health p99 ms under load "
        "| peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    body = [
        f"| {t.label} | {u} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | "
        f"{r['errors']:.2%} | {r['probe_p99']:.1f} | {rss:.0f} |"
        for t, u, r, rss in rows
    ]
    return "\n".join(head + body) + "\n"


def main() -> None:
    """Command line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=30.0, help="seconds per service and level")
    p.add_argument("--users", type=int, nargs="+", default=[32, 100])
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS-services.md")
    args = p.parse_args()
    text = markdown(run(args.duration, args.users), args.duration)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
