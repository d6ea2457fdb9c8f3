"""`model.gates`: the retrain acceptance gates, then champion/challenger against the model that
serves in `environment` (DESIGN §6; ADR-008's order: block, promote, keep).

The work runs in `ml_gates_job` (a subprocess: it loads both models). A challenger passes only
when the decision is `promote`: every gate holds and, with a champion, it is non-inferior and
significantly better; `keep` (not clearly better) leaves the champion in place. With nothing
serving there, the gates alone decide (a first model has nothing to be compared with).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from controlplane.playbook.actions.base import (
    Action,
    ActionFailed,
    ActionInputs,
    ActionOutputs,
    StepContext,
)
from controlplane.playbook.actions.ml_artifacts import (
    ENV,
    SERVICE,
    challenger,
    known_service,
    served,
)
from controlplane.playbook.actions.ml_jobs import run_module

JOB = "controlplane.playbook.actions.ml_gates_job"
GATES_TIMEOUT_S = 20 * 60.0  # below the retrain playbook's 30 min step timeout


@dataclass(frozen=True)
class Verdict:
    """What the gates and the comparison decided, and why."""

    decision: str  # promote | keep | block
    reasons: list[str]

    @property
    def passed(self) -> bool:
        """Only a promoted challenger goes on to a release."""
        return self.decision == "promote"


def verdict(
    gates: list[dict[str, Any]], comparison: dict[str, Any] | None, champion: str | None
) -> Verdict:
    """Block on any failed gate (an empty list fails closed), else the comparison decides."""
    if not gates:
        return Verdict("block", ["no gate was evaluated: refusing an unchecked model"])
    failed = [str(g["reason"]) for g in gates if not g.get("passed")]
    if failed:
        return Verdict("block", failed)
    if comparison is None:
        if champion is not None:  # a champion serves but was not compared: fail closed
            return Verdict("block", [f"no comparison with the champion {champion}"])
        return Verdict("promote", ["no champion serves: the acceptance gates decide alone"])
    decision = str(comparison.get("decision"))
    if decision not in ("promote", "keep", "block"):
        return Verdict("block", [f"unknown comparison decision {decision!r}"])
    return Verdict(decision, [str(r) for r in comparison.get("reasons", [])])


class GatesIn(ActionInputs):
    service: str = SERVICE
    environment: str = ENV  # where the champion serves
    challenger_dir: str = Field(min_length=1, max_length=1000)


class GatesOut(ActionOutputs):
    passed: bool
    decision: str
    reasons: list[str]
    gates: list[dict[str, Any]]
    comparison: dict[str, Any] | None
    latency: dict[str, Any] | None
    champion_release: str | None
    champion_version: str | None
    challenger_version: str | None


def gates(ctx: StepContext, given: GatesIn) -> GatesOut:
    """Judge a challenger against the champion serving in `environment`."""
    service = known_service(ctx, given.service)
    folder = challenger(ctx, service, given.challenger_dir)
    champion = served(ctx, service, given.environment)
    args = ["--service", service, "--challenger", str(folder)]
    if champion is not None:
        args += ["--champion", str(champion.artifact)]
    stdout = run_module(
        ctx, JOB, args, timeout_s=GATES_TIMEOUT_S, what=f"the gates of {folder.name}"
    )
    try:
        found: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise ActionFailed(f"the gates job printed no result: {stdout[-300:]!r}") from None
    champion_ref = champion.release if champion else None
    if "unsupported" in found:
        table = [{"name": "validation", "prevents": "promoting a model nothing can judge",
                  "passed": False, "reason": found["unsupported"]}]  # fmt: skip
    else:
        table = list(found.get("gates") or [])
    decided = verdict(table, found.get("comparison"), champion_ref)
    ctx.note(f"{decided.decision}: {'; '.join(decided.reasons)[:400]}")
    return GatesOut(
        passed=decided.passed,
        decision=decided.decision,
        reasons=decided.reasons,
        gates=table,
        comparison=found.get("comparison"),
        latency=found.get("latency"),
        champion_release=champion_ref,
        champion_version=found.get("champion_version"),
        challenger_version=found.get("challenger_version"),
    )


def actions() -> list[Action[Any, Any]]:
    """The acceptance gate action."""
    return [
        Action("model.gates", "model.compare",
               "acceptance gates, then champion/challenger against what serves", GatesIn,
               GatesOut, gates),
    ]  # fmt: skip
