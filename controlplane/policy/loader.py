"""Read and strictly validate `policies/*.yaml`, naming file, line and field on any error."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from controlplane.policy.compiled import CompiledPolicy, compile_policy
from controlplane.policy.models import Mode
from controlplane.policy.schema import (
    ApprovalsDocument,
    ModesDocument,
    Policy,
    RulesDocument,
    SignalsDocument,
)

POLICY_FILES: dict[str, type[BaseModel]] = {
    "modes.yaml": ModesDocument,
    "rules.yaml": RulesDocument,
    "signals.yaml": SignalsDocument,
    "approvals.yaml": ApprovalsDocument,
}
Loc = tuple[str | int, ...]
Marks = dict[Loc, int]
DocT = TypeVar("DocT", bound=BaseModel)


class PolicyError(ValueError):
    """A policy file is missing or invalid; the message names the file, line and field."""

    def __init__(self, file: str, line: int | None, field: str, reason: str) -> None:
        self.file, self.line, self.field, self.reason = file, line, field, reason
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {field or '<document>'}: {reason}")


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
        name: _load_document(root / name, model, raw[name]) for name, model in POLICY_FILES.items()
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


def _load_document(path: Path, model: type[BaseModel], raw: bytes) -> tuple[BaseModel, Marks]:
    """Parse one YAML file with line marks and validate it against its model."""
    text = raw.decode("utf-8")
    marks: Marks = {}
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = _to_python(loader, node, (), marks, str(path)) if node is not None else {}
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise PolicyError(str(path), line, "", f"not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError(str(path), 1, "", "the document must be a mapping")
    try:
        return model.model_validate(data), marks
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        loc = tuple(errors[0]["loc"])
        reason = errors[0]["msg"]
        if len(errors) > 1:
            reason += (
                f" (and {len(errors) - 1} more: "
                + "; ".join(f"{_dotted(tuple(e['loc']))}: {e['msg']}" for e in errors[1:4])
                + ")"
            )
        raise PolicyError(str(path), _line(marks, loc), _dotted(loc), reason) from exc


def _to_python(loader: yaml.SafeLoader, node: yaml.Node, loc: Loc, marks: Marks, file: str) -> Any:
    """Build plain data from a YAML node, recording each path's line and refusing duplicate keys."""
    marks[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in out:
                line = key_node.start_mark.line + 1
                raise PolicyError(file, line, _dotted((*loc, key)), f"duplicate key {key!r}")
            out[key] = _to_python(loader, value_node, (*loc, key), marks, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(loader, n, (*loc, i), marks, file) for i, n in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _line(marks: Marks, loc: Loc) -> int | None:
    """Find the line of the deepest known prefix of a pydantic error location."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in marks:
            return marks[loc[:end]]
    return None


def _dotted(loc: Loc) -> str:
    return ".".join(str(part) for part in loc)


def _check_rules(path: Path, marks: Marks, rules: RulesDocument, modes: ModesDocument) -> None:
    """Refuse rules naming unknown operations or that could never raise any base mode."""
    ops = modes.operations
    for i, rule in enumerate(rules.rules):
        for j, name in enumerate(rule.operations):
            loc: Loc = ("rules", i, "operations", j)
            if name not in ops:
                raise PolicyError(
                    str(path),
                    _line(marks, loc),
                    _dotted(loc),
                    f"unknown operation {name!r} (not in modes.yaml)",
                )
            bases = [_base(ops[name].modes.for_env(env)) for env in rule.environments]
            if all(rule.raise_to <= base for base in bases):
                loc = ("rules", i, "raise_to")
                raise PolicyError(
                    str(path),
                    _line(marks, loc),
                    _dotted(loc),
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
                        _line(marks, loc),
                        _dotted(loc),
                        f"unknown operation {name!r} (not in modes.yaml)",
                    )


__all__ = ["POLICY_FILES", "PolicyError", "load_policy", "policy_version"]
