"""autofix_agent: ask the plane whether a proposed CI fix may be applied (the seed's CI
self-healing rules, `ci.autofix` in policies/rules.yaml: blast radius, protected paths, class).

    git diff | python -m agents.autofix_agent --failure-class formatter_drift --patch -
    python -m agents.autofix_agent --failure-class test_fixture_alignment \\
        --path tests/conftest.py --lines 14

Exit 0 AUTO (the fix may be pushed), 3 CONSULT (a human reviews it first), 1 STOP (no agent
applies it). The question and its answer are in the audit log under this agent.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from agents.common import EXIT_OK, EXIT_PENDING, EXIT_REFUSED, connect, emit, run, say

OPERATION = "ci.autofix"


@dataclass(frozen=True)
class Change:
    """The blast radius of a fix: which files, how many changed lines."""

    paths: tuple[str, ...]
    lines: int


def measure(patch: str) -> Change:
    """Files and changed lines (added + removed) of a unified diff, as `git diff` prints it."""
    paths: list[str] = []
    lines = 0
    old: str | None = None
    for line in patch.splitlines():
        if line.startswith("--- "):
            old = _path(line[4:])
        elif line.startswith("+++ "):
            new = _path(line[4:])
            path = new if new is not None else old
            if path is not None and path not in paths:
                paths.append(path)
        elif line.startswith(("+", "-")) and not line.startswith(("+++", "---")):
            lines += 1
    return Change(tuple(paths), lines)


def _path(header: str) -> str | None:
    name = header.split("\t", 1)[0].strip()
    if name == "/dev/null":
        return None
    return name[2:] if name.startswith(("a/", "b/")) else name


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m agents.autofix_agent", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--failure-class", required=True, help="e.g. formatter_drift, security_or_auth")
    p.add_argument("--patch", help="the proposed fix as a unified diff (file, or - for stdin)")
    p.add_argument("--path", action="append", default=[], help="a changed path (repeatable)")
    p.add_argument("--lines", type=int, default=0, help="changed lines (with --path)")
    p.add_argument("-e", "--environment", default="dev", help="where CI runs the fix")
    p.add_argument("--json", action="store_true", help="print the decision as JSON")
    args = p.parse_args(argv)
    if not args.patch and not args.path:
        p.error("give the fix as --patch FILE or as --path ... --lines N")
    return args


def change_of(args: argparse.Namespace) -> Change:
    """The change, from the patch or from the flags."""
    if args.patch:
        text = sys.stdin.read() if args.patch == "-" else Path(args.patch).read_text()
        return measure(text)
    return Change(tuple(args.path), args.lines)


def main(argv: list[str] | None = None) -> int:
    """Ask, report the mode and why, exit with what the agent may do."""
    args = parse(argv)
    change = change_of(args)
    context = {
        "files_changed": len(change.paths),
        "lines_changed": change.lines,
        "paths": list(change.paths),
        "failure_class": args.failure_class,
    }
    with connect() as client:
        decision = client.decide(OPERATION, args.environment, None, context)
    mode = decision["final_mode"]
    why = "; ".join(decision["reasons"]) or "no rule fired"
    size = f"{len(change.paths)} files, {change.lines} lines, class {args.failure_class}"
    if args.json:
        emit(decision)
    if mode == "AUTO":
        say(f"AUTO: the fix may be applied ({size}); decision {decision['decision_id']}")
        return EXIT_OK
    if mode == "CONSULT":
        say(f"CONSULT: a human reviews this fix before it is applied ({size}): {why}")
        return EXIT_PENDING
    say(f"STOP: no agent applies this fix ({size}): {why}")
    return EXIT_REFUSED


if __name__ == "__main__":
    run(main)
