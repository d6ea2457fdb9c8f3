"""Table tests for the policy, like `opa test`: run `policies/tests/*.yaml` against decide()."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from controlplane.policy.compiled import CompiledPolicy, compile_policy
from controlplane.policy.engine import decide
from controlplane.policy.loader import PolicyError, load_policy
from controlplane.policy.models import Decision, DecisionInput
from controlplane.policy.schema import ModeName, Policy, SignalsDocument
from controlplane.risk.signals import SIGNAL_NAMES, SignalReading, SignalState

_FIXED_NOW = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)


class Expect(BaseModel):
    """What a case expects of the decision; only `final_mode` is mandatory."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    final_mode: ModeName
    base_mode: ModeName | None = None
    required_approvals: int | None = None
    reason_contains: str | None = None
    counterfactual_contains: str | None = None


class Case(BaseModel):
    """One table row: the inputs of a decision and what it must come out as."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    operation: str
    environment: str
    service: str | None = None
    actor_kind: str = "human"
    context: dict[str, Any] = Field(default_factory=dict)
    signals: dict[str, SignalState] = Field(default_factory=dict)
    escalation: dict[str, Literal["step", "stop"]] = Field(default_factory=dict)
    expect: Expect

    def policy_for(self, policy: CompiledPolicy) -> CompiledPolicy:
        """Return the policy with this case's escalation overrides (what-if jump-to-STOP)."""
        if not self.escalation:
            return policy
        settings = dict(policy.signals.signals)
        for name, escalation in self.escalation.items():
            if name not in settings:
                raise ValueError(f"unknown signal {name!r} in escalation")
            settings[name] = settings[name].model_copy(update={"escalation": escalation})
        signals = SignalsDocument(signals=settings)
        return compile_policy(
            Policy(
                modes=policy.modes,
                rules=policy.rules,
                signals=signals,
                approvals=policy.approvals,
                version=policy.version,
            )
        )

    def readings(self) -> list[SignalReading]:
        """All five signals: the ones named with their state, the rest inactive."""
        unknown = set(self.signals) - set(SIGNAL_NAMES)
        if unknown:
            raise ValueError(f"unknown signal(s) {', '.join(sorted(unknown))}")
        return [
            SignalReading(n, self.signals.get(n, SignalState.INACTIVE), "policy-test", _FIXED_NOW)
            for n in SIGNAL_NAMES
        ]


class CaseFile(BaseModel):
    """A file of cases."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cases: list[Case] = Field(min_length=1)


@dataclass(frozen=True)
class CaseFailure:
    """One case that did not come out as expected."""

    file: str
    case: str
    expected: str
    got: str

    def render(self) -> str:
        """Print the failure the way a person reads it."""
        return f"FAIL {self.file} :: {self.case}\n  expected {self.expected}\n  got      {self.got}"


@dataclass
class PolicyTestReport:
    """The outcome of a table-test run: counts, failures and what was covered."""

    total: int = 0
    failures: list[CaseFailure] = field(default_factory=list)
    operations: set[str] = field(default_factory=set)
    signals: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        """True when every case passed and at least one ran (an empty suite fails closed)."""
        return self.total > 0 and not self.failures

    def render(self) -> str:
        """Summarise the run: failures first, then one line of counts."""
        lines = [f.render() for f in self.failures]
        passed = self.total - len(self.failures)
        lines.append(f"{passed}/{self.total} policy cases passed")
        return "\n".join(lines)


def run_policy_tests(
    policy_dir: str | Path, policy: CompiledPolicy | None = None
) -> PolicyTestReport:
    """Load the policy (unless given) and check every case in `<policy_dir>/tests/*.yaml`."""
    root = Path(policy_dir)
    active = policy if policy is not None else load_policy(root)
    report = PolicyTestReport()
    for path in sorted((root / "tests").glob("*.yaml")):
        for case in _read_cases(path):
            report.total += 1
            report.operations.add(case.operation)
            report.signals.update(case.signals)
            failure = _check(path.name, case, active)
            if failure is not None:
                report.failures.append(failure)
    return report


def _read_cases(path: Path) -> list[Case]:
    """Parse one case file, refusing malformed cases with the file named."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return CaseFile.model_validate(data).cases
    except (yaml.YAMLError, ValidationError) as exc:
        raise PolicyError(str(path), None, "cases", str(exc)) from exc


def _check(file: str, case: Case, policy: CompiledPolicy) -> CaseFailure | None:
    """Decide one case and compare it with what the case expects."""
    try:
        inp = DecisionInput(
            operation=case.operation,
            environment=case.environment,
            service=case.service,
            actor=f"policy-test-{case.actor_kind}",
            actor_kind=case.actor_kind,
            context=case.context,
        )
        got = decide(
            inp, case.readings(), case.policy_for(policy), decision_id="policy-test", now=_FIXED_NOW
        )
    except (ValueError, ValidationError) as exc:
        return CaseFailure(file, case.name, _describe(case.expect), f"invalid case: {exc}")
    problems = _mismatches(case.expect, got)
    if not problems:
        return None
    return CaseFailure(file, case.name, _describe(case.expect), _describe_got(got, problems))


def _mismatches(exp: Expect, got: Decision) -> list[str]:
    """List which expectations the decision missed."""
    problems = []
    if got.final_mode != exp.final_mode.name:
        problems.append("final_mode")
    if exp.base_mode is not None and got.base_mode != exp.base_mode.name:
        problems.append("base_mode")
    if exp.required_approvals is not None and got.required_approvals != exp.required_approvals:
        problems.append("required_approvals")
    if exp.reason_contains is not None and not any(exp.reason_contains in r for r in got.reasons):
        problems.append("reasons")
    if exp.counterfactual_contains is not None and exp.counterfactual_contains not in (
        got.counterfactual
    ):
        problems.append("counterfactual")
    return problems


def _describe(exp: Expect) -> str:
    """Render the expectation compactly."""
    parts = [f"final_mode={exp.final_mode.name}"]
    if exp.base_mode is not None:
        parts.append(f"base_mode={exp.base_mode.name}")
    if exp.required_approvals is not None:
        parts.append(f"required_approvals={exp.required_approvals}")
    if exp.reason_contains is not None:
        parts.append(f"a reason containing {exp.reason_contains!r}")
    if exp.counterfactual_contains is not None:
        parts.append(f"counterfactual containing {exp.counterfactual_contains!r}")
    return ", ".join(parts)


def _describe_got(got: Decision, problems: list[str]) -> str:
    """Render the decision's fields that matter for the failed expectations."""
    parts = [
        f"final_mode={got.final_mode}",
        f"base_mode={got.base_mode}",
        f"required_approvals={got.required_approvals}",
    ]
    if "reasons" in problems:
        parts.append(f"reasons={got.reasons!r}")
    if "counterfactual" in problems:
        parts.append(f"counterfactual={got.counterfactual!r}")
    return ", ".join(parts) + f" (mismatch: {', '.join(problems)})"
