"""Time from an alert firing in Alertmanager to `incident_active` counted in a plane decision.

The plane runs as its own uvicorn process (SQLite, audit writer process, the receiver's bearer
token configured); `MonitoringStack` starts a real Alertmanager (and Prometheus) with the
configuration the product renders for it: every alert to the plane's webhook, group_wait 10 s,
group_interval 1 m. Each round posts one P1 alert for bankchurn/dev to Alertmanager's API v2
(`/api/v2/alerts`, as Prometheus does; the moment the POST returns is the firing moment) and
polls `POST /v1/decisions` (deploy in dev, dry-run, every 20 ms) until incident_active counts.
The round's alert has a name of its own, so it is a new Alertmanager group that waits the whole
group_wait; between rounds the incident is resolved by a human through the API (and the alert
resolved in Alertmanager), and the next round starts once deploy is back to AUTO.

Baseline in the same run: a second Alertmanager with the same rendered configuration whose
webhook is a bare HTTP server that only notes when each alert arrives, rounds interleaved.
The floor is group_wait itself: Alertmanager holds a new group that long before it notifies.
Usage: .venv/bin/python bench/alert_to_decision.py [--alerts 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from harness import REPO, free_port, server

from controlplane.monitoring import config, files
from controlplane.monitoring.stack import LOOPBACK, Child, MonitoringStack, ensure_token, find

SCOPE = {"service": "bankchurn", "environment": "dev"}
DECISION = {"operation": "deploy", **SCOPE, "dry_run": True}
POLL_S = 0.02

PLANE = """
import uvicorn
from controlplane.app import create_app, tune_gc
from controlplane.config import Settings
app = create_app(Settings(state_dir={state!r}, policy_dir={policies!r},
                          alertmanager_token={token!r}))
tune_gc()  # as `opsctl up` does
uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning", access_log=False)
"""


class Arrivals(BaseHTTPRequestHandler):
    """A bare webhook receiver: note when each alertname first arrives firing, answer 200."""

    seen: dict[str, float] = {}

    def do_POST(self) -> None:
        at = time.perf_counter()
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        for alert in body["alerts"]:
            if alert["status"] == "firing":
                self.seen.setdefault(alert["labels"]["alertname"], at)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def bare_alertmanager(root: Path, receiver_url: str) -> Child:
    """An Alertmanager with the product's rendered config, notifying `receiver_url` instead."""
    token_file = root / config.TOKEN_FILE
    ensure_token(token_file)
    rendered = config.alertmanager_config(
        plane_url=receiver_url, token_file=str(token_file), webhook_path="/"
    )
    path = root / files.ALERTMANAGER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config.render(rendered))
    binary = find(("prometheus-alertmanager", "alertmanager"))
    assert binary is not None, "apt-get install prometheus-alertmanager"
    port = free_port()
    child = Child(
        "alertmanager (bare receiver)", binary, port, root / "alertmanager.log",
        [f"--config.file={path}", f"--storage.path={root / 'data'}",
         f"--web.listen-address={LOOPBACK}:{port}", "--cluster.listen-address="],
    )  # fmt: skip
    child.start()
    child.wait_ready(time.monotonic() + 30)
    return child


def fire(alertmanager_url: str, name: str, *, resolved: bool = False) -> tuple[float, float]:
    """Post one P1 alert for bankchurn/dev (or its resolution); perf_counter before and after.

    The firing moment is when the POST is sent: Alertmanager starts the group's group_wait
    while it handles it, so timing from the answer would leave the POST's own time out.
    """
    sent = time.perf_counter()
    now = datetime.now(UTC)
    alert = {
        "labels": {"alertname": name, "severity": "P1", **SCOPE},
        "annotations": {"summary": f"bench alert {name}"},
        "startsAt": now.isoformat(),
        "endsAt": (now if resolved else now + timedelta(hours=1)).isoformat(),
    }
    r = httpx.post(f"{alertmanager_url}/api/v2/alerts", json=[alert], timeout=10)
    r.raise_for_status()
    return sent, time.perf_counter()


def counted(plane: httpx.Client) -> bool:
    """Whether incident_active counts in a deploy decision for bankchurn/dev right now."""
    r = plane.post("/v1/decisions", json=DECISION)
    r.raise_for_status()
    [view] = [s for s in r.json()["signals"] if s["name"] == "incident_active"]
    return bool(view["counted"])


def wait(check: Any, timeout_s: float, what: str) -> float:
    """Poll `check()` every POLL_S until true; perf_counter then."""
    deadline = time.perf_counter() + timeout_s
    while not check():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{what} not within {timeout_s} s")
        time.sleep(POLL_S)
    return time.perf_counter()


def one_round(plane: httpx.Client, plane_am: str, bare_am: str, i: int) -> dict[str, float]:
    """The bare receiver's time, then ours, for the round's own alertname."""
    name = f"BenchAlert{i:02d}"
    posted, _ = fire(bare_am, name)
    wait(lambda: name in Arrivals.seen, 60, "the bare receiver's notification")
    bare = Arrivals.seen[name] - posted
    fire(bare_am, name, resolved=True)

    posted_wall = datetime.now(UTC)
    posted, accepted = fire(plane_am, name)
    seen = wait(lambda: counted(plane), 60, "incident_active in a decision")
    [incident] = plane.get("/v1/incidents", params={**SCOPE, "status": "open"}).json()["data"]
    opened = datetime.fromisoformat(incident["opened_at"]) - posted_wall
    r = plane.post(f"/v1/incidents/{incident['id']}/resolve", json={"resolution": "bench"})
    r.raise_for_status()
    fire(plane_am, name, resolved=True)
    wait(lambda: not counted(plane), 30, "deploy back to AUTO")
    return {"bare": bare, "ours": seen - posted, "opened": opened.total_seconds(),
            "post": accepted - posted}  # fmt: skip


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of a small sample."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def run(alerts: int) -> str:
    """Measure `alerts` rounds and return a markdown section."""
    root = Path(tempfile.mkdtemp(prefix="bench-alerts-"))
    state, port = root / "plane", free_port()
    token = ensure_token(state / config.TOKEN_FILE)
    code = PLANE.format(state=str(state), policies=str(REPO / "policies"), token=token, port=port)
    receiver = ThreadingHTTPServer((LOOPBACK, 0), Arrivals)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    bare_child = bare_alertmanager(root / "bare", f"http://{LOOPBACK}:{receiver.server_port}")
    rounds: list[dict[str, float]] = []
    load = [os.getloadavg()[0]]
    try:
        with server(code, port):
            url = f"http://{LOOPBACK}:{port}"
            stack = MonitoringStack(state, plane_url=url, token=token).start()
            admin = (state / "admin.token").read_text().strip()
            headers = {"Authorization": f"Bearer {admin}"}
            try:
                with httpx.Client(base_url=url, headers=headers, timeout=10) as plane:
                    assert not counted(plane), "incident_active before any alert"
                    for i in range(alerts):
                        rounds.append(one_round(plane, stack.alertmanager_url, bare_child.url, i))
                        done = rounds[-1]
                        print(f"alert {i}: bare {done['bare']:.3f} s, ours {done['ours']:.3f} s")
            finally:
                stack.stop()
    finally:
        bare_child.stop()
        receiver.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    load.append(os.getloadavg()[0])
    return section(rounds, load)


def section(rounds: list[dict[str, float]], load: list[float]) -> str:
    """The results table."""
    floor = _seconds(config.GROUP_WAIT)
    bare, ours = [r["bare"] for r in rounds], [r["ours"] for r in rounds]
    opened = [r["opened"] for r in rounds]
    after = [o - p for o, p in zip(ours, opened, strict=True)]
    p50 = statistics.median(ours)

    def row(label: str, xs: list[float]) -> str:
        return (f"| {label} | {len(xs)} | {statistics.median(xs):.2f} | {pct(xs, 0.9):.2f} | "
                f"{max(xs):.2f} | {statistics.median(xs) / floor:.3f}x |")  # fmt: skip

    lines = [
        f"### Alert firing in Alertmanager -> incident_active in a decision ({len(rounds)} alerts)",
        "",
        "| path | alerts | p50 s | p90 s | max s | p50 / group_wait |",
        "|---|---:|---:|---:|---:|---:|",
        f"| floor: Alertmanager's group_wait (the product's rendered config) | - | {floor:.2f} "
        f"| {floor:.2f} | {floor:.2f} | 1x |",
        row("bare: Alertmanager -> a bare webhook receiver (same config)", bare),
        row("ours: Alertmanager -> plane webhook -> incident -> decision counts it", ours),
        row("ours, part: alert posted -> incident opened (plane's clock)", opened),
        "",
        f"- ours p50 / group_wait: **{p50 / floor:.3f}x**; ours p50 - bare p50: "
        f"{p50 - statistics.median(bare):.3f} s; incident opened -> a decision counts it: p50 "
        f"{statistics.median(after) * 1000:.0f} ms, max {max(after) * 1000:.0f} ms (the webhook's "
        "commit invalidates the signal cache; decisions are polled every "
        f"{POLL_S * 1000:.0f} ms, dry-run)",
        f"- the firing moment is when the POST to `/api/v2/alerts` is sent; Alertmanager answered "
        f"it in p50 {statistics.median(r['post'] for r in rounds) * 1000:.0f} ms",
        "- group_wait dominates: Alertmanager holds a new group that long before its first "
        "notification; what the plane adds (the webhook's incident.open through the door, "
        "audited, committed; the decision's fresh signal read) is milliseconds on top",
        "- before this benchmark's branch, the signal cache was invalidated when the governed "
        "incident.open released its SAVEPOINT, before the webhook's commit: a decision in "
        "between cached the pre-incident reading for signal_local_ttl_s (2 s), and 6 of 20 "
        "webhook calls took ~1.6 s to show (controlplane/db.py now waits for the outer commit)",
        "- each alert has its own alertname, so each is a new group; between rounds a human "
        "resolves the incident through the API and the next round waits for deploy to be AUTO",
        f"- 1-minute load average {load[0]:.1f} at the start and {load[-1]:.1f} at the end, on "
        f"{os.cpu_count()} CPUs: the machine is shared, so read the ratios and differences",
    ]
    return "\n".join(lines)


def _seconds(duration: str) -> float:
    """'10s' / '1m' as seconds."""
    unit = {"s": 1, "m": 60, "h": 3600}[duration[-1]]
    return float(duration[:-1]) * unit


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS-alerts.md")
    args = parser.parse_args()
    text = run(args.alerts)
    args.out.write_text(text + "\n")
    print(text)
