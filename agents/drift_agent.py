"""drift_agent: run /drift-check on a schedule; when drift is severe, ask for /retrain.

    python -m agents.drift_agent --every 1h                 # a check each hour, until stopped
    python -m agents.drift_agent --once --service bankchurn # one check (cron, CI, tests)

Production checks are filed as drift reports by the playbook (drift_severe follows them). A
retrain is a playbook run like any other: its steps are gated by the plane, and a step that
needs humans is reported, never approved. With --once the exit code says how it went: 0 no
severe drift (or the retrain finished), 3 a retrain waits for humans, 1 something failed.
"""

from __future__ import annotations

import argparse
import re
import time
from typing import Any

from agents.common import EXIT_OK, EXIT_REFUSED, connect, finish, run, say
from agents.incident_agent import worst
from controlplane.client import ControlPlaneClient
from controlplane.errors import ControlPlaneError

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(text: str) -> float:
    """45s, 30m, 1h, 1d (or plain seconds) as seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text.strip())
    if not match or float(match[1]) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a period like 30m or 1h")
    return float(match[1]) * UNITS.get(match[2] or "s", 1)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m agents.drift_agent", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    when = p.add_mutually_exclusive_group()
    when.add_argument("--every", type=seconds, default=3600.0, help="period: 30m, 1h, 1d")
    when.add_argument("--once", action="store_true", help="one check, then exit")
    p.add_argument("--service", default="all", help="a service, or all")
    p.add_argument("--environment", default="production")
    p.add_argument("--window", type=int, default=500, help="recent predictions per check")
    p.add_argument("--no-retrain", action="store_true", help="report severe drift only")
    p.add_argument("--retrain-input", action="append", default=[], metavar="KEY=VALUE",
                   help="extra /retrain input, e.g. rows=1500 (repeatable)")  # fmt: skip
    p.add_argument("--timeout", type=float, default=1800, help="seconds to follow each run")
    return p.parse_args(argv)


def severe(run_: dict[str, Any]) -> dict[str, list[str]]:
    """Severe services of a finished drift check and, for each, its severe features."""
    check = next((s for s in run_["steps"] if s["step_id"] == "check"), None)
    outputs = (check or {}).get("outputs") or {}
    out: dict[str, list[str]] = {}
    for service in outputs.get("severe_services") or []:
        reports = outputs.get("services") or []
        report: dict[str, Any] = next((r for r in reports if r.get("service") == service), {})
        features = [f["name"] for f in report.get("features") or [] if f.get("level") == "severe"]
        out[str(service)] = features
    return out


def check_once(client: ControlPlaneClient, args: argparse.Namespace) -> int:
    """One /drift-check and the /retrain runs its severe findings call for."""
    inputs = {"service": args.service, "environment": args.environment, "window": args.window}
    checked = client.wait(client.start_run("drift-check", inputs), kind="run",
                          timeout_s=args.timeout, poll_s=0.3)  # fmt: skip
    if checked["status"] != "succeeded":
        return finish("run", checked, client)
    found = severe(checked)
    if not found:
        say(f"drift-check {checked['id']}: no severe drift in {args.environment}")
        return EXIT_OK
    codes = []
    for service, features in found.items():
        say(f"severe drift in {service}/{args.environment}: {', '.join(features) or 'see run'}")
        if args.no_retrain:
            continue
        extra = dict(item.split("=", 1) for item in args.retrain_input)
        why = f"drift_agent: severe drift ({', '.join(features)[:150]})"
        retrain = {"service": service, "environment": args.environment, "reason": why, **extra}
        started = client.start_run("retrain", retrain)
        say(f"asked for /retrain {service}: run {started['id']}")
        done = client.wait(started, kind="run", timeout_s=args.timeout, poll_s=0.5)
        codes.append(finish("run", done, client))
    return worst(codes) if codes else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Check once, or on a schedule until stopped (a failed check waits for the next)."""
    args = parse(argv)
    with connect() as client:
        if args.once:
            return check_once(client, args)
        while True:
            try:
                check_once(client, args)
            except ControlPlaneError as exc:
                say(f"this check failed, retrying in {args.every:.0f}s: {exc.diagnostics()}")
            try:
                time.sleep(args.every)
            except KeyboardInterrupt:
                return EXIT_OK
    return EXIT_REFUSED  # pragma: no cover - the loop only ends by returning


if __name__ == "__main__":
    run(main)
