"""Policy vocabulary: modes, environments, decision inputs and the Decision the engine returns."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

from controlplane.risk.signals import SignalReading


class Mode(enum.IntEnum):
    """Ordered decision modes: AUTO < CONSULT < STOP."""

    AUTO = 0
    CONSULT = 1
    STOP = 2

    @classmethod
    def parse(cls, value: str | Mode) -> Mode:
        """Accept a mode name in any case."""
        if isinstance(value, Mode):
            return value
        try:
            return cls[str(value).strip().upper()]
        except KeyError as exc:
            raise ValueError(f"unknown mode {value!r}; expected AUTO, CONSULT or STOP") from exc


# Common spellings of the three environments, accepted wherever an environment is named.
ALIASES = {
    "local": "dev",
    "development": "dev",
    "develop": "dev",
    "stage": "staging",
    "preprod": "staging",
    "prod": "production",
}


class Environment(enum.StrEnum):
    """Deployment environments; `local` is an alias of dev."""

    DEV = "dev"
    STAGING = "staging"
    PRODUCTION = "production"

    @classmethod
    def parse(cls, value: str | Environment) -> Environment:
        """Map common spellings (local, prod, stage) onto the three environments."""
        if isinstance(value, Environment):
            return value
        key = str(value).strip().lower()
        try:
            return cls(ALIASES.get(key, key))
        except ValueError as exc:
            raise ValueError(
                f"unknown environment {value!r}; expected dev, staging or production"
            ) from exc


def _environment_name(value: object) -> str | None:
    return None if value is None else Environment.parse(str(value)).value


# An environment field of an API body, stored as its canonical name (prod -> production); the
# schema lists every spelling it accepts, so clients and fuzzers know which strings are valid.
EnvironmentName = Annotated[
    str,
    BeforeValidator(_environment_name),
    WithJsonSchema({"type": "string", "enum": [*(e.value for e in Environment), *ALIASES]}),
]


class DecisionInput(BaseModel):
    """What the engine decides about: one operation by one actor."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    operation: str = Field(min_length=1, max_length=128, pattern=r"^[a-z0-9][a-z0-9._:-]*$")
    environment: Environment
    service: str | None = Field(default=None, max_length=64, pattern=r"^[a-z][a-z0-9_-]*$")
    actor: str = Field(default="anonymous", max_length=128)
    actor_kind: str = Field(default="human", pattern=r"^(human|agent|ci|service)$")
    context: dict[str, Any] = Field(default_factory=dict)

    @field_validator("environment", mode="before")
    @classmethod
    def _env(cls, value: Any) -> Environment:
        return Environment.parse(value)


class SignalView(BaseModel):
    """A signal as it appears in a decision (§11 field names)."""

    name: str
    state: str
    source: str
    observed_at: datetime | None
    evidence: dict[str, Any] = Field(default_factory=dict)
    applies: bool = True
    counted: bool = False
    note: str = ""

    @classmethod
    def of(cls, reading: SignalReading, *, applies: bool, counted: bool, note: str) -> SignalView:
        """Render one reading with whether it applied to this decision and why."""
        return cls(
            name=reading.name,
            state=reading.state.value,
            source=reading.source,
            observed_at=reading.observed_at,
            evidence=dict(reading.evidence),
            applies=applies,
            counted=counted,
            note=note,
        )


class Decision(BaseModel):
    """The engine's answer: mode, why, and what would change it."""

    model_config = ConfigDict(frozen=True)

    decision_id: str
    operation: str
    environment: Environment
    service: str | None
    actor: str
    base_mode: str
    final_mode: str
    signals: list[SignalView]
    reasons: list[str]
    rules_fired: list[str] = Field(default_factory=list)
    required_approvals: int
    policy_version: str
    counterfactual: str
    decided_at: datetime
