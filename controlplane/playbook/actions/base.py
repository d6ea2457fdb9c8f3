"""What an action is and what it may touch: typed inputs and outputs, collaborators, a key.

An action is a small function `(StepContext, InputsModel) -> OutputsModel`. It calls adapters and
domain services through `Tools`, never SDKs. It runs at least once per idempotency key: the runner
skips it when the key already finished, and adapters that change the outside world take the key
so a re-run after a crash does not repeat the effect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlmodel import Session

InT = TypeVar("InT", bound=BaseModel)
OutT = TypeVar("OutT", bound=BaseModel)


class ActionInputs(BaseModel):
    """Base of every action's inputs: unknown fields are refused (a typo in `with`)."""

    model_config = ConfigDict(extra="forbid")


class ActionOutputs(BaseModel):
    """Base of every action's outputs (what later steps may reference)."""

    model_config = ConfigDict(extra="forbid")


class ActionFailed(Exception):
    """An action's expected failure, with a reason for people and a class for retries."""

    def __init__(self, reason: str, *, error: str = "failed", retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason, self.error, self.retryable = reason, error, retryable


class Waiting(Exception):
    """Not done yet and not failed (a deployment waiting for approvals): look again later."""

    def __init__(self, reason: str, *, check_in_s: float = 5.0) -> None:
        super().__init__(reason)
        self.reason, self.check_in_s = reason, check_in_s


@dataclass(frozen=True)
class Requester:
    """Who asked for the run: every step is judged, and acts, as them."""

    name: str
    kind: str


@dataclass
class StepContext:
    """One attempt of one step: its key, where it lands, and a transaction for its records.

    `session` is the transaction that also records the step's outcome: rows an action writes
    there commit together with "step succeeded", so a crash leaves neither.
    """

    run_id: str
    step_id: str
    idempotency_key: str
    requester: Requester
    environment: str | None
    service: str | None
    session: Session
    tools: Any  # controlplane.playbook.tools.Tools (kept loose: actions import it, not base)
    now: datetime
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        """Add a line to the run's timeline for this step."""
        self.notes.append(text[:500])


@dataclass(frozen=True)
class Action(Generic[InT, OutT]):
    """One registered action: its name, the operation that gates it, and its typed contract."""

    name: str
    operation: str
    description: str
    inputs: type[InT]
    outputs: type[OutT]
    run: Callable[[StepContext, InT], OutT]
    compensation: str | None = None  # the action that undoes it, when a playbook asks
    # what the policy's rules must see, read from the records (an incident's real severity),
    # never taken from the step's inputs, which the requester wrote
    recorded: Callable[[Session, InT], Mapping[str, Any]] | None = None

    def output_names(self) -> frozenset[str]:
        """The output keys a later step may reference."""
        return frozenset(self.outputs.model_fields)

    def policy_context(self, session: Session, raw: Mapping[str, Any]) -> dict[str, Any]:
        """What the policy's rules see of a step: its plain inputs, overridden by the records."""
        seen = {key: value for key, value in raw.items() if _plain(value)}
        if self.recorded is not None:
            try:
                given = self.inputs.model_validate(raw)
            except ValidationError:  # not runnable as written: the step fails when it runs
                return seen
            seen.update(self.recorded(session, given))
        return seen

    def call(self, ctx: StepContext, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Validate the rendered inputs, run, and return the outputs as JSON."""
        result = self.run(ctx, self.inputs.model_validate(raw))
        return result.model_dump(mode="json")


def _plain(value: Any) -> bool:
    """A value a rule can test: a scalar, or a list of strings (paths, files)."""
    if isinstance(value, list):
        return all(isinstance(item, str) for item in value)
    return isinstance(value, str | int | float | bool)


class ActionRegistry:
    """The actions one plane knows, by name."""

    def __init__(self, actions: list[Action[Any, Any]] | None = None) -> None:
        self._actions: dict[str, Action[Any, Any]] = {}
        for action in actions or []:
            self.add(action)

    def add(self, action: Action[Any, Any]) -> None:
        """Register one (a second of the same name is a programming error)."""
        if action.name in self._actions:
            raise ValueError(f"action {action.name!r} registered twice")
        self._actions[action.name] = action

    def get(self, name: str) -> Action[Any, Any] | None:
        """The action of that name, if any."""
        return self._actions.get(name)

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._actions)
