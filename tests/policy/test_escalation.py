"""ADR-010 escalation: the exhaustive matrix against a plain oracle, and its properties."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from factories import POLICIES, decide_for, write_minimal_policy
from hypothesis import given, settings
from hypothesis import strategies as st

from controlplane.policy.compiled import CompiledPolicy, compile_policy
from controlplane.policy.loader import load_policy
from controlplane.policy.models import Mode
from controlplane.risk.signals import SIGNAL_NAMES, SignalState

BASES = {"auto.op": "AUTO", "consult.op": "CONSULT", "stop.op": "STOP"}
STATES = (SignalState.ACTIVE, SignalState.INACTIVE, SignalState.UNKNOWN)


def oracle(base: str, states: tuple[SignalState, ...]) -> str:
    """ADR-010 written plainly: any active or unknown signal moves the mode up one step."""
    if not any(s in (SignalState.ACTIVE, SignalState.UNKNOWN) for s in states):
        return base
    return {"AUTO": "CONSULT", "CONSULT": "STOP", "STOP": "STOP"}[base]


@pytest.fixture(scope="module")
def minimal_policy(tmp_path_factory: pytest.TempPathFactory) -> CompiledPolicy:
    return load_policy(write_minimal_policy(tmp_path_factory.mktemp("policy")))


def test_escalation_matrix_matches_adr_010(minimal_policy: CompiledPolicy) -> None:
    """Every base mode x every combination of the five signals x active/inactive/unknown."""
    checked = 0
    for operation, base in BASES.items():
        for combo in itertools.product(STATES, repeat=len(SIGNAL_NAMES)):
            states = dict(zip(SIGNAL_NAMES, combo, strict=True))
            decision = decide_for(minimal_policy, operation, "dev", states)
            assert (decision.base_mode, decision.final_mode) == (base, oracle(base, combo)), states
            assert [v.name for v in decision.signals] == list(SIGNAL_NAMES)
            for view in decision.signals:
                assert view.counted == (states[view.name] is not SignalState.INACTIVE)
            for name, state in states.items():
                if state is SignalState.UNKNOWN:
                    assert any(f"{name} is unknown" in r for r in decision.reasons)
            checked += 1
    assert checked == 3 * 3**5


def test_disabled_signals_are_listed_but_never_escalate(minimal_policy: CompiledPolicy) -> None:
    states = dict.fromkeys(SIGNAL_NAMES, SignalState.DISABLED)
    decision = decide_for(minimal_policy, "auto.op", "dev", states)
    assert decision.final_mode == "AUTO"
    assert {v.name: v.state for v in decision.signals} == dict.fromkeys(SIGNAL_NAMES, "disabled")
    assert not any(v.counted for v in decision.signals)


def test_unknown_operation_is_stop_with_a_reason(minimal_policy: CompiledPolicy) -> None:
    decision = decide_for(minimal_policy, "cluster.delete", "dev")
    assert (decision.base_mode, decision.final_mode) == ("STOP", "STOP")
    assert "operation cluster.delete is not in the policy (fail-closed)" in decision.reasons
    assert decision.required_approvals == 2


def test_jump_to_stop_signal_skips_consult(tmp_path: Path) -> None:
    signals = "signals:\n" + "".join(
        f"  {n}: {{escalation: {'stop' if n == 'drift_severe' else 'step'}}}\n"
        for n in SIGNAL_NAMES
    )
    policy = load_policy(write_minimal_policy(tmp_path, signals))
    jump = decide_for(policy, "auto.op", "dev", {"drift_severe": SignalState.UNKNOWN})
    step = decide_for(policy, "auto.op", "dev", {"off_hours": SignalState.ACTIVE})
    assert (jump.final_mode, step.final_mode) == ("STOP", "CONSULT")
    assert jump.counterfactual == "would be AUTO without drift_severe"


def _with_escalation(policy: CompiledPolicy, jumpers: frozenset[str]) -> CompiledPolicy:
    settings_ = {
        name: s.model_copy(update={"escalation": "stop" if name in jumpers else "step"})
        for name, s in policy.signals.signals.items()
    }
    docs = policy.documents
    signals = docs.signals.model_copy(update={"signals": settings_})
    return compile_policy(docs.model_copy(update={"signals": signals}))


DEFAULT = load_policy(POLICIES)
VARIANTS = {
    frozenset(c): _with_escalation(DEFAULT, frozenset(c))
    for r in range(3)
    for c in itertools.combinations(SIGNAL_NAMES, r)
}
CONTEXTS = st.fixed_dictionaries(
    {},
    optional={
        "files_changed": st.integers(0, 40),
        "lines_changed": st.integers(0, 800),
        "paths": st.lists(st.sampled_from(["README.md", "policies/x.yaml", "infra/terraform/a"])),
        "primary_metric": st.floats(0.5, 1.0),
        "disparate_impact_ratio": st.floats(0.5, 1.0),
    },
)


@settings(max_examples=400, deadline=None)
@given(
    operation=st.sampled_from([*DEFAULT.modes.operations, "not.in.policy"]),
    environment=st.sampled_from(["dev", "staging", "production", "local"]),
    states=st.dictionaries(st.sampled_from(SIGNAL_NAMES), st.sampled_from(list(SignalState))),
    jumpers=st.sampled_from(list(VARIANTS)),
    context=CONTEXTS,
)
def test_signals_never_lower_and_move_at_most_one_step(
    operation: str,
    environment: str,
    states: dict[str, SignalState],
    jumpers: frozenset[str],
    context: dict[str, object],
) -> None:
    """final >= base; signals move at most one step unless a counted jump-to-STOP signal fires."""
    policy = VARIANTS[jumpers]
    decision = decide_for(policy, operation, environment, states, context)
    without = decide_for(policy, operation, environment, {}, context)
    base, final, quiet = (
        Mode[m] for m in (decision.base_mode, decision.final_mode, without.final_mode)
    )
    assert final >= quiet >= base
    counted = {v.name for v in decision.signals if v.counted}
    if counted & jumpers:
        assert final is Mode.STOP
    else:
        assert final - quiet <= 1
    if not counted:
        assert final == quiet
    for view in decision.signals:
        if view.state in ("disabled", "inactive"):
            assert not view.counted
