"""incident_agent: on an alert, run /incident and stop at whatever needs a human.

    python -m agents.incident_agent --alert alertmanager-payload.json
    python -m agents.incident_agent --service bankchurn --environment production --severity P1

Each firing alert (Alertmanager's webhook JSON, from a file or `-` for stdin) with a service
label starts one /incident run (classify, open, evidence, mitigate, verify); the agent follows
it until it ends or pauses for approval, and says who must approve what. It never approves.
Exit 0 all runs done, 3 one waits for humans, 1 one failed or was refused, 4 still running.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from agents.common import (
    EXIT_OK,
    EXIT_PENDING,
    EXIT_REFUSED,
    EXIT_STILL_RUNNING,
    EXIT_USAGE,
    AgentExit,
    connect,
    emit,
    finish,
    run,
    say,
)

SEVERITY = {"p1": "P1", "p2": "P2", "p3": "P3", "p4": "P4", "critical": "P1", "page": "P1",
            "high": "P2", "error": "P2", "warning": "P3", "ticket": "P4", "info": "P4"}  # fmt: skip
UNSET_SEVERITY = "P2"  # an alert that does not say how bad it is counts as blocking (fail closed)
ENVIRONMENTS = {"dev": "dev", "development": "dev", "staging": "staging", "stage": "staging",
                "production": "production", "prod": "production"}  # fmt: skip
WORST_FIRST = (EXIT_REFUSED, EXIT_PENDING, EXIT_STILL_RUNNING, EXIT_OK)


def incidents_of(payload: Mapping[str, Any]) -> list[dict[str, str]]:
    """One /incident input set per firing alert that names a service (duplicates merged)."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for alert in payload.get("alerts") or []:
        labels = alert.get("labels") or {}
        if alert.get("status", "firing") != "firing" or not labels.get("service"):
            continue
        env = ENVIRONMENTS.get(str(labels.get("environment", "production")).lower(), "production")
        severity = SEVERITY.get(str(labels.get("severity", "")).lower(), UNSET_SEVERITY)
        summary = (alert.get("annotations") or {}).get("summary", "")
        title = f"{labels.get('alertname', 'alert')}: {summary}".strip(": ")[:200]
        key = (str(labels["service"]), env)
        best = found.get(key)
        if best is None or severity < best["severity"]:  # P1 sorts before P2
            found[key] = {"service": key[0], "environment": env, "severity": severity,
                          "title": title}  # fmt: skip
    return list(found.values())


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m agents.incident_agent", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--alert", help="Alertmanager webhook JSON (file, or - for stdin)")
    p.add_argument("--service", help="instead of --alert: the service")
    p.add_argument("--environment", default="production")
    p.add_argument("--severity", default=UNSET_SEVERITY, choices=["P1", "P2", "P3", "P4"])
    p.add_argument("--title", default="reported by incident_agent")
    p.add_argument("--timeout", type=float, default=600, help="seconds to follow each run")
    p.add_argument("--json", action="store_true", help="print the runs' final states as JSON")
    return p.parse_args(argv)


def wanted(args: argparse.Namespace) -> list[dict[str, str]]:
    """The incidents to run, from the alert payload or the flags."""
    if args.alert:
        text = sys.stdin.read() if args.alert == "-" else Path(args.alert).read_text()
        try:
            return incidents_of(json.loads(text))
        except (ValueError, AttributeError) as exc:
            raise AgentExit(EXIT_USAGE, f"--alert is not Alertmanager JSON: {exc}") from None
    if not args.service:
        raise AgentExit(EXIT_USAGE, "give --alert PAYLOAD or --service NAME")
    return [{"service": args.service, "environment": args.environment,
             "severity": args.severity, "title": args.title}]  # fmt: skip


def worst(codes: Iterable[int]) -> int:
    """The exit code that matters most (a failure over a wait over a run still going)."""
    seen = set(codes)
    return next((c for c in WORST_FIRST if c in seen), EXIT_OK)


def main(argv: list[str] | None = None) -> int:
    """Run /incident for each alert, follow each, report what waits for humans."""
    args = parse(argv)
    todo = wanted(args)
    if not todo:
        say("no firing alert names a service: nothing to do")
        return EXIT_OK
    codes, states = [], []
    with connect() as client:
        for inputs in todo:
            run_ = client.start_run("incident", inputs)
            say(f"/incident {inputs['service']} env={inputs['environment']} "
                f"severity={inputs['severity']}: run {run_['id']}")  # fmt: skip
            state = client.wait(run_, kind="run", timeout_s=args.timeout, poll_s=0.3)
            for step in state["steps"]:
                if step["status"] not in ("pending", "skipped"):
                    say(f"  {step['step_id']:<16} {step['mode'] or '-':<8} {step['status']}")
            codes.append(finish("run", state, client))
            states.append(state)
    if args.json:
        emit(states)
    return worst(codes)


if __name__ == "__main__":
    run(main)
