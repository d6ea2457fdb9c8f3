"""Run every benchmark (each measures ours against a baseline in the same run) and write RESULTS.md.

Usage: .venv/bin/python bench/run_all.py [--quick]
Each script also runs on its own and writes its own RESULTS-*.md section; this stitches them
together with the machine, date and commit they were measured on.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

# (script, full-run args, quick-run args, section file)
SUITE = (
    ("decision_latency.py", [], [], "RESULTS-decision.md"),
    ("audit_appends.py", ["--records", "2000"], ["--records", "500"], "RESULTS-audit.md"),
    ("http_decisions.py", ["--seconds", "20"], ["--seconds", "6"], "RESULTS-http.md"),
    ("mcp_roundtrip.py", [], ["--calls", "100", "--rounds", "1"], "RESULTS-mcp.md"),
    ("deploy_overhead.py", [], ["--requests", "100"], "RESULTS-deploy.md"),
    ("governed_actions.py", [], ["--requests", "100"], "RESULTS-governed.md"),
    ("services_load.py", ["--duration", "30"], ["--duration", "5"], "RESULTS-services.md"),
    ("stable_address.py", ["--duration", "20"], ["--duration", "8"], "RESULTS-stable.md"),
    ("playbook_runs.py", [], ["--rounds", "1", "--rollbacks", "1"], "RESULTS-playbooks.md"),
    ("alert_to_decision.py", [], ["--alerts", "3"], "RESULTS-alerts.md"),
    ("dora_scale.py", [], ["--sizes", "10000", "100000"], "RESULTS-dora.md"),
    ("ui_pages.py", [], ["--records", "20000", "--requests", "10"], "RESULTS-ui.md"),
)


def _machine() -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at commit {commit or 'unknown'} on "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}. "
        "The machine is shared and noisy: compare the ratios within one run, not absolute numbers "
        "across runs."
    )


def _reused_note(section: str) -> str:
    """Sections kept from an earlier run say which commit last wrote them."""
    last = subprocess.run(
        ["git", "log", "-1", "--format=%h %cd", "--date=format:%Y-%m-%d %H:%M", "--", section],
        cwd=BENCH,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"_(section reused from an earlier run; last written at commit {last or 'unknown'})_"


def require_wrk() -> None:
    """Stop before anything runs when wrk, the HTTP load generator, is missing."""
    if shutil.which("wrk") is None:
        raise SystemExit(
            "wrk (the HTTP load generator the benchmarks drive the plane with) is not installed.\n"
            "Install it, then run `make bench` again:\n"
            "  Debian/Ubuntu: sudo apt-get install wrk\n"
            "  macOS:         brew install wrk"
        )


def main() -> None:
    """Run the suite and write bench/RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    parser.add_argument(
        "--only", nargs="*", default=None, help="re-run these scripts; reuse the other sections"
    )
    args = parser.parse_args()
    require_wrk()
    sections = ["# Benchmark results", "", _machine(), ""]
    for script, full, quick, out in SUITE:
        if not (BENCH / script).exists():
            continue
        if args.only is not None and script not in args.only:
            sections += [(BENCH / out).read_text().strip(), "", _reused_note(out), ""]
            continue
        print(f"== {script}", flush=True)
        cmd = [sys.executable, str(BENCH / script), *(quick if args.quick else full)]
        result = subprocess.run(cmd, cwd=ROOT)
        if result.returncode != 0:
            sections += [f"## {script}", "", f"FAILED (exit {result.returncode})", ""]
            continue
        sections += [(BENCH / out).read_text().strip(), ""]
    (BENCH / "RESULTS.md").write_text("\n".join(sections))
    print(f"wrote {BENCH / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
