"""Builders shared by the policy tests: inputs, readings and a minimal policy directory."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controlplane.policy.compiled import CompiledPolicy
from controlplane.policy.engine import decide
from controlplane.policy.models import Decision, DecisionInput
from controlplane.risk.signals import SIGNAL_NAMES, SignalReading, SignalState

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies"
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)

# Three operations whose base mode is AUTO, CONSULT and STOP; every signal applies to them.
MINIMAL_MODES = """\
operations:
  auto.op:
    description: always AUTO
    modes: {default: AUTO}
  consult.op:
    description: always CONSULT
    modes: {default: CONSULT}
  stop.op:
    description: always STOP
    modes: {default: STOP}
"""
MINIMAL_SIGNALS = "signals:\n" + "".join(
    f"  {name}: {{environments: '*', operations: '*', escalation: step}}\n" for name in SIGNAL_NAMES
)
MINIMAL_APPROVALS = """\
modes:
  CONSULT: {quorum: {default: 1}, ttl: 24h}
  STOP: {quorum: {default: 2}, ttl: 1h}
"""


def write_minimal_policy(root: Path, signals: str = MINIMAL_SIGNALS) -> Path:
    """Write a small, valid policy directory for tests that need their own policy."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "modes.yaml").write_text(MINIMAL_MODES)
    (root / "rules.yaml").write_text("rules: []\n")
    (root / "signals.yaml").write_text(signals)
    (root / "approvals.yaml").write_text(MINIMAL_APPROVALS)
    return root


def copy_default_policy(root: Path) -> Path:
    """Copy the shipped policy files (with their tests) so a test can break one."""
    shutil.copytree(POLICIES, root)
    return root


def readings(states: dict[str, SignalState]) -> list[SignalReading]:
    """All five signals, with the given states and the rest inactive."""
    return [
        SignalReading(name, states.get(name, SignalState.INACTIVE), "test", NOW)
        for name in SIGNAL_NAMES
    ]


def decide_for(
    policy: CompiledPolicy,
    operation: str,
    environment: str = "production",
    states: dict[str, SignalState] | None = None,
    context: dict[str, Any] | None = None,
) -> Decision:
    """Decide one operation with the given signal states."""
    inp = DecisionInput(operation=operation, environment=environment, context=context or {})
    return decide(inp, readings(states or {}), policy, decision_id="t", now=NOW)
