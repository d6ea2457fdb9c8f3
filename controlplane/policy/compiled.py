"""A policy compiled once at load: the documents plus lookup tables, so a decision is dict hits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from controlplane.policy.models import Environment, Mode
from controlplane.policy.schema import (
    ApprovalsDocument,
    ModesDocument,
    Policy,
    Rule,
    RulesDocument,
    SignalsDocument,
)
from controlplane.risk.signals import SIGNAL_NAMES


@dataclass(frozen=True, slots=True)
class Scope:
    """Whether one signal counts for one operation and environment, and what to say if not."""

    applies: bool
    note: str
    jump_to_stop: bool


@dataclass(frozen=True, slots=True)
class Entry:
    """Everything `decide` needs for one (operation, environment) pair."""

    known: bool
    base: Mode
    base_reason: str
    rules: tuple[Rule, ...]
    requires: tuple[str, ...]
    scopes: Mapping[str, Scope]


@dataclass(frozen=True, slots=True)
class PolicyIndex:
    """All entries keyed by (operation, environment), the fail-closed entry, and quorums."""

    entries: Mapping[tuple[str, Environment], Entry]
    unknown: Mapping[Environment, Entry]
    quorum: Mapping[tuple[Mode, Environment], int]


def _scopes(
    policy: Policy, operation: str, env: Environment, exempt: tuple[str, ...]
) -> dict[str, Scope]:
    """Resolve signal scope and exemptions once per (operation, environment)."""
    scopes: dict[str, Scope] = {}
    for name in SIGNAL_NAMES:
        settings = policy.signals.signals[name]
        jump = settings.escalation == "stop"
        applies, note = settings.applies(operation, env)
        if applies and name in exempt:
            applies, note = False, f"{operation} is exempt from {name} (modes.yaml)"
        scopes[name] = Scope(applies=applies, note=note, jump_to_stop=jump)
    return scopes


def build_index(policy: Policy) -> PolicyIndex:
    """Flatten the policy documents into per-(operation, environment) entries."""
    entries: dict[tuple[str, Environment], Entry] = {}
    for name, op in policy.modes.operations.items():
        rules = tuple(r for r in policy.rules.rules if name in r.operations)
        for env in Environment:
            base = op.modes.for_env(env)
            assert base is not None  # ModeByEnvironment refuses incomplete maps
            entries[(name, env)] = Entry(
                known=True,
                base=base,
                base_reason=f"base mode for {name} in {env.value} is {base.name} (modes.yaml)",
                rules=tuple(r for r in rules if env in r.environments),
                requires=op.requires_context,
                scopes=_scopes(policy, name, env, op.exempt_signals),
            )
    unknown = {
        env: Entry(
            known=False,
            base=Mode.STOP,
            base_reason="",
            rules=(),
            requires=(),
            scopes=_scopes(policy, "", env, ()),
        )
        for env in Environment
    }
    quorum = {(m, env): policy.approvals.quorum_for(m, env) for env in Environment for m in Mode}
    return PolicyIndex(entries=entries, unknown=unknown, quorum=quorum)


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """The validated documents and their index, built together once per load."""

    documents: Policy
    index: PolicyIndex

    @property
    def version(self) -> str:
        """sha256 of the policy files this was compiled from."""
        return self.documents.version

    @property
    def modes(self) -> ModesDocument:
        """modes.yaml."""
        return self.documents.modes

    @property
    def rules(self) -> RulesDocument:
        """rules.yaml."""
        return self.documents.rules

    @property
    def signals(self) -> SignalsDocument:
        """signals.yaml."""
        return self.documents.signals

    @property
    def approvals(self) -> ApprovalsDocument:
        """approvals.yaml."""
        return self.documents.approvals


def compile_policy(policy: Policy) -> CompiledPolicy:
    """Index a validated policy (the loader calls it, so nothing compiles twice)."""
    return CompiledPolicy(documents=policy, index=build_index(policy))
