"""Read and check `playbooks/*.yaml`: schema, registered actions, and every template reference.

A broken file names file, line and field; a broken set is refused as a whole and the store keeps
the last good one (as the policy store does), so a bad edit never half-applies.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controlplane.playbook.actions.base import ActionRegistry
from controlplane.playbook.spec import PlaybookSpec, StepSpec
from controlplane.playbook.template import ROOTS, TemplateProblem, references
from controlplane.yamldoc import DocumentError, Loc, Marks, dotted, line_of, load_model

log = logging.getLogger(__name__)
RUN_FIELDS = frozenset({"id", "requested_by", "requested_kind", "playbook"})
SCOPE_FIELDS = frozenset({"environment", "service"})


class PlaybookError(DocumentError):
    """A playbook file is invalid; the message names the file, line and field."""


@dataclass(frozen=True)
class Playbook:
    """One loaded playbook: the spec, where it came from, and its content hash."""

    spec: PlaybookSpec
    path: str
    version: str  # sha256 of the file: a run records which text it followed

    @property
    def name(self) -> str:
        """The slash command."""
        return self.spec.name


def load_playbooks(
    directory: Path, actions: ActionRegistry, operations: Collection[str] | None = None
) -> dict[str, Playbook]:
    """Every playbook in the folder, checked; the first problem raises PlaybookError."""
    if not directory.is_dir():
        raise PlaybookError(str(directory), None, "", "playbook directory does not exist")
    found: dict[str, Playbook] = {}
    for path in sorted(directory.glob("*.yaml")):
        book = load_file(path, actions, operations)
        if book.name in found:
            raise PlaybookError(
                str(path), None, "name", f"{book.name!r} is also {found[book.name].path}"
            )
        if path.stem != book.name:
            raise PlaybookError(str(path), 1, "name", f"the file must be named {book.name}.yaml")
        found[book.name] = book
    return found


def load_file(
    path: Path, actions: ActionRegistry, operations: Collection[str] | None = None
) -> Playbook:
    """One playbook file, checked against the schema, the actions and its own references."""
    raw = path.read_bytes()
    spec, marks = load_model(path, PlaybookSpec, raw, PlaybookError)
    _Checker(spec, marks, str(path), actions, operations).check()
    return Playbook(spec=spec, path=str(path), version=hashlib.sha256(raw).hexdigest())


class _Checker:
    """The checks a schema cannot make: actions exist, `with` fits them, references resolve."""

    def __init__(
        self,
        spec: PlaybookSpec,
        marks: Marks,
        file: str,
        actions: ActionRegistry,
        operations: Collection[str] | None,
    ) -> None:
        self.spec, self.marks, self.file = spec, marks, file
        self.actions, self.operations = actions, operations

    def fail(self, loc: Loc, reason: str) -> PlaybookError:
        return PlaybookError(self.file, line_of(self.marks, loc), dotted(loc), reason)

    def check(self) -> None:
        for key in ("environment", "service"):
            self._refs(("scope", key), getattr(self.spec.scope, key), set(), expression=False)
        for i, step in enumerate(self.spec.steps):
            earlier = {s.id for s in self.spec.steps[:i]}
            self._step(i, step, earlier)

    def _step(self, i: int, step: StepSpec, earlier: set[str]) -> None:
        loc: Loc = ("steps", i)
        action = self.actions.get(step.action)
        if action is None:
            raise self.fail(
                (*loc, "action"),
                f"unknown action {step.action!r}; known: {', '.join(self.actions.names())}",
            )
        if step.operation and self.operations is not None and step.operation not in self.operations:
            raise self.fail(
                (*loc, "operation"),
                f"unknown operation {step.operation!r} (not in policies/modes.yaml)",
            )
        self._fits(loc, "with", step.action, step.with_)
        self._refs((*loc, "with"), step.with_, earlier, expression=False)
        if step.when:
            self._refs((*loc, "when"), step.when, earlier, expression=True)
        for key in ("environment", "service"):
            self._refs((*loc, key), getattr(step, key), earlier, expression=False)
        if step.on_failure == "compensate" and step.compensate is None:
            raise self.fail(
                (*loc, "on_failure"), "compensate needs a `compensate:` action on this step"
            )
        if step.compensate is not None:
            undo = self.actions.get(step.compensate.action)
            if undo is None:
                raise self.fail(
                    (*loc, "compensate", "action"), f"unknown action {step.compensate.action!r}"
                )
            self._fits((*loc, "compensate"), "with", step.compensate.action, step.compensate.with_)
            self._refs(
                (*loc, "compensate", "with"),
                step.compensate.with_,
                earlier | {step.id},
                expression=False,
            )

    def _fits(self, loc: Loc, key: str, action_name: str, given: dict[str, Any]) -> None:
        """`with` names only inputs the action has, and every input it requires."""
        action = self.actions.get(action_name)
        assert action is not None
        fields = action.inputs.model_fields
        for name in given:
            if name not in fields:
                raise self.fail(
                    (*loc, key, name),
                    f"{action_name} has no input {name!r}; it takes {', '.join(fields) or 'none'}",
                )
        for name, info in fields.items():
            if info.is_required() and name not in given:
                raise self.fail((*loc, key), f"{action_name} needs input {name!r}")

    def _refs(self, loc: Loc, value: Any, earlier: set[str], *, expression: bool) -> None:
        if value is None:
            return
        try:
            paths = list(references(value, expression=expression))
        except TemplateProblem as exc:
            raise self.fail(loc, f"template does not parse: {exc}") from exc
        for path in paths:
            problem = self._resolve(path, earlier)
            if problem:
                raise self.fail(loc, problem)

    def _resolve(self, path: tuple[str, ...], earlier: set[str]) -> str | None:
        """Why a referenced path does not exist, or None when it does."""
        root, rest = path[0], path[1:]
        if root not in ROOTS:
            return (
                None
                if root in _JINJA_NAMES
                else f"unknown name {root!r}; use one of {', '.join(sorted(ROOTS))}"
            )
        if not rest:
            return None
        if root == "inputs":
            return None if self.spec.input(rest[0]) else f"inputs.{rest[0]} is not a declared input"
        if root == "run":
            return (
                None
                if rest[0] in RUN_FIELDS
                else f"run.{rest[0]} does not exist ({', '.join(sorted(RUN_FIELDS))})"
            )
        if root == "scope":
            return None if rest[0] in SCOPE_FIELDS else f"scope.{rest[0]} does not exist"
        return self._step_ref(rest, earlier)

    def _step_ref(self, rest: tuple[str, ...], earlier: set[str]) -> str | None:
        step_id = rest[0]
        if step_id not in earlier:
            return f"steps.{step_id} is not an earlier step"
        if len(rest) < 2 or rest[1] == "status":
            return None
        if rest[1] != "outputs":
            return f"steps.{step_id}.{rest[1]} does not exist (use outputs.<name> or status)"
        if len(rest) < 3:
            return None
        action = self.actions.get(self.spec.step(step_id).action)
        if action is not None and rest[2] not in action.output_names():
            names = ", ".join(sorted(action.output_names()))
            return f"steps.{step_id}.outputs.{rest[2]} is not an output of {action.name} ({names})"
        return None


_JINJA_NAMES = frozenset({"true", "false", "none", "True", "False", "None", "range", "loop"})


class PlaybookStore:
    """Loads `playbooks/` and reloads it when files change, keeping the last good set."""

    def __init__(
        self,
        directory: Path,
        actions: ActionRegistry,
        *,
        operations: Collection[str] | None = None,
        check_every_s: float = 2.0,
    ) -> None:
        self.directory, self.actions, self.operations = directory, actions, operations
        self._check_every = check_every_s
        self._lock = threading.Lock()
        self._books: dict[str, Playbook] = {}
        self._fingerprint: tuple[tuple[str, float, int], ...] = ()
        self._next_check = 0.0
        self.last_error: str | None = None
        self.reload()

    def _files(self) -> tuple[tuple[str, float, int], ...]:
        try:
            return tuple(
                (p.name, p.stat().st_mtime, p.stat().st_size)
                for p in sorted(self.directory.glob("*.y*ml"))
            )
        except OSError:
            return ()

    def reload(self) -> bool:
        """Try to load the folder; on failure keep the previous set and remember why."""
        fingerprint = self._files()
        try:
            books = load_playbooks(self.directory, self.actions, self.operations)
        except (DocumentError, OSError) as exc:
            with self._lock:
                self._fingerprint, self.last_error = fingerprint, str(exc)
            log.error("playbooks refused, keeping the last good set: %s", exc)
            return False
        with self._lock:
            self._books, self._fingerprint, self.last_error = books, fingerprint, None
        return True

    def all(self) -> dict[str, Playbook]:
        """The last good set, after a cheap check for edited files."""
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + self._check_every
            if self._files() != self._fingerprint:
                self.reload()
        return dict(self._books)

    def get(self, name: str) -> Playbook | None:
        """One playbook by name (= slash command), if loaded."""
        return self.all().get(name)

    def __iter__(self) -> Iterator[Playbook]:
        return iter(sorted(self.all().values(), key=lambda b: b.name))
