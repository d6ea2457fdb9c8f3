"""In-process decision latency: our decide() vs cedarpy on an equivalent policy, same inputs.

Run: `.venv/bin/python bench/decision_latency.py` (writes bench/RESULTS-decision.md).

Equivalence: bench/cedar_model.py translates the loaded default policy into Cedar (its docstring
explains the mapping: a permit per operation for AUTO and CONSULT, forbids for rules and signals;
mode = lowest mode permitted, else STOP). Before timing, every input in the mix is decided by both
and the modes compared; the agreement count is printed with the results.

Fairness: both sides get pre-built inputs (our DecisionInput + readings; Cedar's request dicts),
Cedar uses a pre-parsed PolicySet and Entities handle. Ours returns a full explained Decision
(reasons, every signal, counterfactual); Cedar returns allow/deny. Cedar is measured three ways:
per decision with sequential `is_authorized` calls (AUTO, then CONSULT only if needed), per
decision with one `is_authorized_batch` of both requests, and one batch for the whole mix
(mean per decision only). GC is disabled while timing, for both.
"""

from __future__ import annotations

import gc
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import cedarpy  # noqa: E402
from cedar_model import cedar_policy_text, cedar_requests  # noqa: E402

from controlplane.policy.engine import decide  # noqa: E402
from controlplane.policy.loader import load_policy  # noqa: E402
from controlplane.policy.models import DecisionInput, Environment  # noqa: E402
from controlplane.risk.signals import SIGNAL_NAMES, SignalReading, SignalState  # noqa: E402

N_INPUTS, ROUNDS, SEED = 2000, 10, 7
NOW = datetime(2026, 3, 4, 21, 0, tzinfo=UTC)
OPS = {  # operation -> weight in the mix (deploys and agent fixes dominate real traffic)
    "deploy": 25,
    "ci.autofix": 15,
    "scale": 6,
    "restart": 6,
    "model.metric": 8,
    "build": 6,
    "tests": 5,
    "lint": 4,
    "rollback": 4,
    "alert.silence": 3,
    "model.promote.staging": 3,
    "model.promote.production": 2,
    "terraform.plan": 3,
    "terraform.apply": 3,
    "kubectl.apply": 2,
    "retrain": 2,
    "incident.open": 1,
    "secret.rotate": 1,
    "not.in.policy": 1,
}
PATHS = [
    "README.md",
    "controlplane/cli/main.py",
    "tests/policy/test_x.py",
    "docs/a.md",
    "policies/modes.yaml",
    "infra/terraform/main.tf",
    ".github/workflows/deploy.yml",
]
Case = tuple[DecisionInput, list[SignalReading], tuple[dict[str, Any], dict[str, Any]]]


def _state(rng: random.Random, name: str) -> SignalState:
    if name == "error_budget_exhausted" and rng.random() < 0.5:
        return SignalState.DISABLED  # no Prometheus in the embedded default
    roll = rng.random()
    if roll < 0.10:
        return SignalState.ACTIVE
    if roll < 0.14:
        return SignalState.UNKNOWN
    return SignalState.INACTIVE


def _context(rng: random.Random, op: str) -> dict[str, Any]:
    if op == "ci.autofix":
        ctx: dict[str, Any] = {
            "files_changed": rng.randint(1, 16),
            "lines_changed": rng.randint(1, 420),
            "paths": rng.sample(PATHS, k=rng.randint(1, 2)) if rng.random() < 0.3 else [PATHS[1]],
        }
        if rng.random() < 0.2:
            ctx["failure_class"] = rng.choice(
                ["formatter_drift", "test_fixture_alignment", "security_or_auth"]
            )
        return ctx
    if op == "model.metric":
        return {
            "primary_metric": round(rng.uniform(0.7, 1.0), 4),
            "disparate_impact_ratio": round(rng.uniform(0.75, 1.0), 4),
        }
    return {}


def make_mix() -> list[Case]:
    """A seeded, realistic mix of decision inputs with their Cedar requests."""
    rng = random.Random(SEED)
    cases: list[Case] = []
    for _ in range(N_INPUTS):
        op = rng.choices(list(OPS), weights=list(OPS.values()))[0]
        env = rng.choice(list(Environment))
        kind = rng.choice(["human", "agent", "ci"])
        ctx = _context(rng, op)
        readings = [SignalReading(n, _state(rng, n), "bench", NOW) for n in SIGNAL_NAMES]
        inp = DecisionInput(
            operation=op, environment=env, service="bankchurn", actor_kind=kind, context=ctx
        )
        cases.append((inp, readings, cedar_requests(op, env, kind, ctx, readings)))
    return cases


def _cedar_mode(auto: bool, consult: bool) -> str:
    return "AUTO" if auto else "CONSULT" if consult else "STOP"


def _timed(fn: Callable[[Case], object], cases: list[Case]) -> list[float]:
    """Time fn on every case, ROUNDS times, in microseconds."""
    samples: list[float] = []
    clock = time.perf_counter_ns
    gc.disable()
    try:
        for _ in range(ROUNDS):
            for case in cases:
                start = clock()
                fn(case)
                samples.append((clock() - start) / 1000)
    finally:
        gc.enable()
    return samples


def main() -> None:
    """Check equivalence, time both engines, print and write the markdown table."""
    policy = load_policy(ROOT / "policies")
    pset = cedarpy.PolicySet.from_str(cedar_policy_text(policy))
    ents = cedarpy.Entities.from_json_str("[]")
    cases = make_mix()

    def ours(case: Case) -> str:
        return decide(case[0], case[1], policy, decision_id="bench", now=NOW).final_mode

    def cedar_calls(case: Case) -> str:
        auto_req, consult_req = case[2]
        if cedarpy.is_authorized(auto_req, pset, ents).allowed:
            return "AUTO"
        return _cedar_mode(False, cedarpy.is_authorized(consult_req, pset, ents).allowed)

    def cedar_batch(case: Case) -> str:
        auto, consult = cedarpy.is_authorized_batch(list(case[2]), pset, ents)
        return _cedar_mode(auto.allowed, consult.allowed)

    agree = sum(ours(c) == cedar_calls(c) == cedar_batch(c) for c in cases)
    rows = [
        ("ours: decide() (full explained Decision)", _timed(ours, cases)),
        ("cedarpy: is_authorized, sequential (1-2 calls)", _timed(cedar_calls, cases)),
        ("cedarpy: is_authorized_batch, 2 requests per decision", _timed(cedar_batch, cases)),
    ]
    whole = [req for c in cases for req in c[2]]
    start = time.perf_counter_ns()
    cedarpy.is_authorized_batch(whole, pset, ents)
    whole_mean = (time.perf_counter_ns() - start) / 1000 / len(cases)
    print(render(rows, whole_mean, agree, len(cases)))
    (ROOT / "bench" / "RESULTS-decision.md").write_text(render(rows, whole_mean, agree, len(cases)))


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def render(rows: list[tuple[str, list[float]]], whole_mean: float, agree: int, n: int) -> str:
    """Format the results as a markdown section."""
    ours_p50 = _pct(rows[0][1], 0.5)
    lines = [
        "## Decision latency (in-process, default policy)",
        "",
        f"{n} seeded inputs x {ROUNDS} rounds; Python {platform.python_version()}, "
        f"cedarpy {metadata.version('cedarpy')}, {platform.machine()}; "
        f"modes agree on {agree}/{n} inputs.",
        "Command: `.venv/bin/python bench/decision_latency.py`.",
        "",
        "| engine | p50 (us) | p99 (us) | mean (us) | p50 vs ours |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, samples in rows:
        p50 = _pct(samples, 0.5)
        lines.append(
            f"| {name} | {p50:.1f} | {_pct(samples, 0.99):.1f} | "
            f"{statistics.fmean(samples):.1f} | {p50 / ours_p50:.2f}x |"
        )
    lines.append(
        f"| cedarpy: one batch of the whole mix, per decision | - | - | {whole_mean:.1f} | - |"
    )
    goal = "met" if ours_p50 <= 20 else "missed"
    lines += ["", f"Goal p50 <= 20 us: {goal} ({ours_p50:.1f} us).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
