"""What a playbook file says (DESIGN §6): typed inputs and steps, validated strictly on load.

Pure: no I/O. The loader reads YAML into these models; the command parser reads arguments
against `InputSpec`; the runner walks `StepSpec`s.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

InputType = Literal["string", "int", "enum", "duration", "service", "environment", "bool"]
NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
IDENT = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")


class Strict(BaseModel):
    """Unknown keys are errors: a typo in a playbook must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_duration(text: str) -> int:
    """'2h', '90m', '1h30m', '45s' or a bare number of seconds -> seconds (ValueError if not)."""
    value = str(text).strip()
    if value.isdigit():
        return int(value)
    found = DURATION.match(value)
    if not value or found is None:
        raise ValueError(f"{text!r} is not a duration (use e.g. 30s, 10m, 2h, 1h30m)")
    h, m, s = (int(found.group(g) or 0) for g in ("h", "m", "s"))
    return h * 3600 + m * 60 + s


class InputSpec(Strict):
    """One typed input of a playbook; `positional` inputs may be given without `name=`."""

    name: str
    type: InputType = "string"
    description: str = ""
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()  # for enum
    positional: bool = False  # may be given as a bare word, in declaration order
    allow_all: bool = False  # service: the word `all` means every service

    @field_validator("name")
    @classmethod
    def _ident(cls, value: str) -> str:
        if not IDENT.match(value):
            raise ValueError("an input name is lower_snake_case, at most 41 characters")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> InputSpec:
        if self.type == "enum" and not self.choices:
            raise ValueError("an enum input needs `choices`")
        if self.type != "enum" and self.choices:
            raise ValueError("`choices` is only for enum inputs")
        if self.required and self.default is not None:
            raise ValueError("a required input has no default")
        return self


class RetrySpec(Strict):
    """How often a failing step is tried again; errors named in `non_retryable` end it at once."""

    attempts: int = Field(default=1, ge=1, le=10)
    backoff_s: float = Field(default=1.0, ge=0, le=600)
    multiplier: float = Field(default=2.0, ge=1, le=10)
    non_retryable: tuple[str, ...] = ()


class CompensateSpec(Strict):
    """The action that undoes a finished step, when a run is compensated."""

    action: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class StepSpec(Strict):
    """One step: a registered action, gated by `operation`, with templated inputs."""

    id: str
    action: str
    description: str = ""
    operation: str | None = None  # default: the action's own operation
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    timeout: str = "5m"
    retries: RetrySpec = RetrySpec()
    on_failure: Literal["abort", "continue", "compensate"] = "abort"
    compensate: CompensateSpec | None = None
    when: str | None = None  # a template expression; the step is skipped when it is false
    environment: str | None = None  # template; default: the playbook's scope
    service: str | None = None  # template; default: the playbook's scope

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("id")
    @classmethod
    def _ident(cls, value: str) -> str:
        if not IDENT.match(value):
            raise ValueError("a step id is lower_snake_case, at most 41 characters")
        return value

    @field_validator("timeout")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not 1 <= parse_duration(value) <= 6 * 3600:
            raise ValueError("a step timeout is between 1s and 6h")
        return value

    @property
    def timeout_s(self) -> int:
        """The timeout in seconds."""
        return parse_duration(self.timeout)


class ScopeSpec(Strict):
    """Where the run's steps are judged by the policy (templates over the inputs)."""

    environment: str | None = None
    service: str | None = None


class PlaybookSpec(Strict):
    """A whole playbook; its name is the slash command."""

    name: str
    description: str
    version: int = 1
    inputs: tuple[InputSpec, ...] = ()
    scope: ScopeSpec = ScopeSpec()
    steps: tuple[StepSpec, ...] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError("a playbook name is lower-kebab-case (it is the slash command)")
        return value

    @model_validator(mode="after")
    def _unique(self) -> PlaybookSpec:
        for label, names in (
            ("input", [i.name for i in self.inputs]),
            ("step id", [s.id for s in self.steps]),
        ):
            seen = {n for n in names if names.count(n) > 1}
            if seen:
                raise ValueError(f"duplicate {label}: {', '.join(sorted(seen))}")
        return self

    def input(self, name: str) -> InputSpec | None:
        """The input of that name, if declared."""
        return next((i for i in self.inputs if i.name == name), None)

    def step(self, step_id: str) -> StepSpec:
        """The step of that id (KeyError if none)."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)
