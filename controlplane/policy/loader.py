"""Read and strictly validate `policies/*.yaml`, naming file, line and field on any error."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from controlplane.policy.compiled import CompiledPolicy, compile_policy
from controlplane.policy.models import Mode
from controlplane.policy.schema import (
    ApprovalsDocument,
    ModesDocument,
    Policy,
    RulesDocument,
    SignalsDocument,
)
from controlplane.yamldoc import DocumentError, Loc, Marks, dotted, line_of, load_model

POLICY_FILES: dict[str, type[BaseModel]] = {
    "modes.yaml": ModesDocument,
    "rules.yaml": RulesDocument,
    "signals.yaml": SignalsDocument,
    "approvals.yaml": ApprovalsDocument,
}
DocT = TypeVar("DocT", bound=BaseModel)


class PolicyError(DocumentError):
    """A policy file is missing or invalid; the message names the file, line and field."""


def policy_version(policy_dir: Path) -> str:
    """Hash the policy files (names sorted, tests excluded) so approvals bind to exact policy."""
    return _digest({path.name: path.read_bytes() for path in policy_dir.glob("*.yaml")})


def _digest(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name] + b"\0")
    return digest.hexdigest()


def load_policy(policy_dir: str | Path) -> CompiledPolicy:
    """Load the four policy documents, validate them and their cross references, compile once."""
    root = Path(policy_dir)
    if not root.is_dir():
        raise PolicyError(str(root), None, "", "policy directory does not exist")
    for path in sorted(root.glob("*.yaml")):
        if path.name not in POLICY_FILES:
            raise PolicyError(str(path), None, "", f"unknown policy file; expected {_names()}")
    raw = {name: _read(root / name) for name in POLICY_FILES}  # read once: parsed = hashed
    docs = {
        name: load_model(root / name, model, raw[name], PolicyError)
        for name, model in POLICY_FILES.items()
    }
    modes = _as(docs["modes.yaml"][0], ModesDocument)
    rules = _as(docs["rules.yaml"][0], RulesDocument)
    signals = _as(docs["signals.yaml"][0], SignalsDocument)
    _check_rules(root / "rules.yaml", docs["rules.yaml"][1], rules, modes)
    _check_signals(root / "signals.yaml", docs["signals.yaml"][1], signals, modes)
    policy = Policy(
        modes=modes,
        rules=rules,
        signals=signals,
        approvals=_as(docs["approvals.yaml"][0], ApprovalsDocument),
        version=_digest(raw),
    )
    return compile_policy(policy)


def _names() -> str:
    return ", ".join(POLICY_FILES)


def _as(doc: BaseModel, model: type[DocT]) -> DocT:
    assert isinstance(doc, model)
    return doc


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise PolicyError(str(path), None, "", "required policy file is missing")
    return path.read_bytes()


def _check_rules(path: Path, marks: Marks, rules: RulesDocument, modes: ModesDocument) -> None:
    """Refuse rules naming unknown operations or that could never raise any base mode."""
    ops = modes.operations
    for i, rule in enumerate(rules.rules):
        for j, name in enumerate(rule.operations):
            loc: Loc = ("rules", i, "operations", j)
            if name not in ops:
                raise PolicyError(
                    str(path),
                    line_of(marks, loc),
                    dotted(loc),
                    f"unknown operation {name!r} (not in modes.yaml)",
                )
            bases = [_base(ops[name].modes.for_env(env)) for env in rule.environments]
            if all(rule.raise_to <= base for base in bases):
                loc = ("rules", i, "raise_to")
                raise PolicyError(
                    str(path),
                    line_of(marks, loc),
                    dotted(loc),
                    f"rule {rule.id} would lower or keep the mode of {name} "
                    f"(base {max(bases).name}); rules can only raise",
                )


def _base(mode: Mode | None) -> Mode:
    """Treat an unresolvable base as STOP (cannot happen: mode maps are complete)."""
    return Mode.STOP if mode is None else mode


def _check_signals(
    path: Path, marks: Marks, signals: SignalsDocument, modes: ModesDocument
) -> None:
    """Refuse signal scopes that name operations the policy does not know."""
    for sig, settings in signals.signals.items():
        listed: Mapping[str, tuple[str, ...]] = {
            "operations": () if settings.operations == "*" else settings.operations,
            "exclude_operations": settings.exclude_operations,
        }
        for key, names in listed.items():
            for j, name in enumerate(names):
                if name not in modes.operations:
                    loc: Loc = ("signals", sig, key, j)
                    raise PolicyError(
                        str(path),
                        line_of(marks, loc),
                        dotted(loc),
                        f"unknown operation {name!r} (not in modes.yaml)",
                    )


__all__ = ["POLICY_FILES", "PolicyError", "load_policy", "policy_version"]
