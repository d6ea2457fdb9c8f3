"""Typed, strict models of the policy documents in `policies/*.yaml`."""

from __future__ import annotations

import fnmatch
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

from controlplane.policy.models import Environment, Mode
from controlplane.risk.signals import SIGNAL_NAMES

ENVIRONMENTS: tuple[Environment, ...] = tuple(Environment)
_OPERATION = r"^[a-z0-9][a-z0-9._:-]*$"
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _mode(value: Any) -> Mode:
    """Accept mode names as written in YAML (AUTO, consult, ...)."""
    if isinstance(value, bool) or not isinstance(value, str | Mode):
        raise ValueError(f"expected a mode name (AUTO, CONSULT or STOP), got {value!r}")
    return Mode.parse(value)


def _env(value: Any) -> Environment:
    """Accept environment names and their aliases (prod, local, ...)."""
    if not isinstance(value, str | Environment):
        raise ValueError(f"expected an environment name, got {value!r}")
    return Environment.parse(value)


def _duration(value: Any) -> int:
    """Accept whole seconds or `30m` / `24h` / `2d` and return seconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError(f"expected a duration like 90s, 30m, 24h or 2d, got {value!r}")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


def _num(value: Any) -> str:
    """Print 5.0 as 5 and 0.85 as 0.85."""
    return f"{value:g}" if isinstance(value, float) else repr(value)


ModeName = Annotated[Mode, BeforeValidator(_mode)]
EnvName = Annotated[Environment, BeforeValidator(_env)]
Number = Annotated[float, Field(strict=True)]
Text = Annotated[str, Field(strict=True, min_length=1)]
Duration = Annotated[int, BeforeValidator(_duration)]
OperationName = Annotated[str, Field(pattern=_OPERATION, max_length=128)]
_ENV_KEYS = ("default", *(env.value for env in ENVIRONMENTS))


class _Strict(BaseModel):
    """Base for policy documents: strict types, unknown keys refused, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_env_keys(data: Any, what: str) -> Any:
    """Refuse environment keys outside dev/staging/production/default with a readable reason."""
    if isinstance(data, dict):
        unknown = [k for k in data if k not in _ENV_KEYS]
        if unknown:
            expected = ", ".join(_ENV_KEYS)
            raise ValueError(f"unknown environment {unknown[0]!r} in {what}; expected {expected}")
    return data


class ModeByEnvironment(_Strict):
    """A base mode per environment, with `default` covering the ones not named."""

    default: ModeName | None = None
    dev: ModeName | None = None
    staging: ModeName | None = None
    production: ModeName | None = None

    @model_validator(mode="before")
    @classmethod
    def _known_envs(cls, data: Any) -> Any:
        return _check_env_keys(data, "modes")

    @model_validator(mode="after")
    def _complete(self) -> ModeByEnvironment:
        missing = [e.value for e in ENVIRONMENTS if self.for_env(e) is None]
        if missing:
            raise ValueError(f"no mode for {', '.join(missing)} and no `default`")
        return self

    def for_env(self, env: Environment) -> Mode | None:
        """Return the mode for one environment, falling back to `default`."""
        value: Mode | None = getattr(self, env.value)
        return value if value is not None else self.default


class Operation(_Strict):
    """One governed operation: its base modes, signal exemptions and required context."""

    description: Text
    modes: ModeByEnvironment
    exempt_signals: tuple[str, ...] = ()
    requires_context: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _known_signals(self) -> Operation:
        for name in self.exempt_signals:
            if name not in SIGNAL_NAMES:
                raise ValueError(f"unknown signal {name!r} in exempt_signals")
        return self


class ModesDocument(_Strict):
    """`policies/modes.yaml`: the operation -> base mode map."""

    operations: dict[OperationName, Operation] = Field(min_length=1)


class Condition(_Strict):
    """One typed test on a context field; exactly one comparison must be given."""

    field: Text
    gt: Number | None = None
    gte: Number | None = None
    lt: Number | None = None
    lte: Number | None = None
    between: tuple[Number, Number] | None = None
    eq: StrictStr | StrictBool | StrictInt | StrictFloat | None = None
    glob_any: tuple[Text, ...] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _exactly_one(self) -> Condition:
        given = [k for k in ("gt", "gte", "lt", "lte", "between", "eq", "glob_any") if self._has(k)]
        if len(given) != 1:
            raise ValueError(
                "a condition needs exactly one of gt, gte, lt, lte, between, eq, glob_any"
                f" (got {', '.join(given) or 'none'})"
            )
        if self.between is not None and not self.between[0] < self.between[1]:
            raise ValueError("between needs [low, high) with low < high")
        return self

    def _has(self, key: str) -> bool:
        return key in self.model_fields_set and getattr(self, key) is not None

    def describe(self, value: Any) -> str:
        """Render the condition and the value that met it, for reasons and reports."""
        for op in ("gt", "gte", "lt", "lte", "eq"):
            if self._has(op):
                symbol = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "=="}[op]
                return f"{self.field}={value!r} {symbol} {_num(getattr(self, op))}"
        if self.between is not None:
            low, high = self.between
            return f"{self.field}={value!r} in [{_num(low)}, {_num(high)})"
        items = [value] if isinstance(value, str) else value
        if isinstance(items, list | tuple):
            for item in items:
                for pattern in self.glob_any or ():
                    if fnmatch.fnmatchcase(str(item), pattern):
                        return f"{self.field} has {item} matching {pattern}"
        return f"{self.field}={value!r} is not a string or list"

    def test(self, value: Any) -> bool:
        """True when the value satisfies the condition; a value of the wrong type counts as true."""
        if self.glob_any is not None:
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list | tuple):
                return True
            return any(
                fnmatch.fnmatchcase(str(item), pattern)
                for item in items
                for pattern in self.glob_any
            )
        if self._has("eq"):
            return bool(value == self.eq)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return True
        if self.gt is not None:
            return value > self.gt
        if self.gte is not None:
            return value >= self.gte
        if self.lt is not None:
            return value < self.lt
        if self.lte is not None:
            return value <= self.lte
        assert self.between is not None
        return self.between[0] <= value < self.between[1]


class Rule(_Strict):
    """A context rule: when its conditions hold it raises the mode (never lowers it)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    operations: tuple[OperationName, ...] = Field(min_length=1)
    environments: tuple[EnvName, ...] = Field(default=ENVIRONMENTS, min_length=1)
    match: Literal["any", "all"] = "any"
    when: tuple[Condition, ...] = Field(min_length=1)
    raise_to: ModeName
    reason: Text

    @model_validator(mode="after")
    def _raises(self) -> Rule:
        if self.raise_to == Mode.AUTO:
            raise ValueError("raise_to AUTO would lower or keep a mode; rules can only raise")
        return self


class RulesDocument(_Strict):
    """`policies/rules.yaml`: context rules that can only raise the mode."""

    rules: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> RulesDocument:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"duplicate rule id {rule.id!r}")
            seen.add(rule.id)
        return self


class SignalSettings(_Strict):
    """Where one signal applies and how hard it escalates."""

    environments: Literal["*"] | tuple[EnvName, ...] = "*"
    operations: Literal["*"] | tuple[OperationName, ...] = "*"
    exclude_operations: tuple[OperationName, ...] = ()
    escalation: Literal["step", "stop"] = "step"
    cache_ttl_seconds: int = Field(default=60, gt=0, le=86400, strict=True)

    def applies(self, operation: str, env: Environment) -> tuple[bool, str]:
        """Say whether the signal is scoped to this operation and environment, and why not."""
        if self.environments != "*" and env not in self.environments:
            return False, f"scoped to {', '.join(e.value for e in self.environments)}"
        if operation in self.exclude_operations:
            return False, f"{operation} is excluded in signals.yaml"
        if self.operations != "*" and operation not in self.operations:
            return False, f"scoped to operations {', '.join(self.operations)}"
        return True, ""


class SignalsDocument(_Strict):
    """`policies/signals.yaml`: scope and escalation of each of the five risk signals."""

    signals: dict[str, SignalSettings]
    # The longest a governed `signal.suppress` may hide a signal's real reading.
    max_suppression: Duration = 4 * 3600

    @model_validator(mode="after")
    def _all_known(self) -> SignalsDocument:
        for name in self.signals:
            if name not in SIGNAL_NAMES:
                raise ValueError(
                    f"unknown signal {name!r}; expected one of {', '.join(SIGNAL_NAMES)}"
                )
        missing = [n for n in SIGNAL_NAMES if n not in self.signals]
        if missing:
            raise ValueError(f"missing settings for signal(s) {', '.join(missing)}")
        return self


class QuorumByEnvironment(_Strict):
    """Distinct approvers needed per environment, with `default` for the rest."""

    default: int = Field(strict=True, ge=1, le=10)
    dev: int | None = Field(strict=True, default=None, ge=1, le=10)
    staging: int | None = Field(strict=True, default=None, ge=1, le=10)
    production: int | None = Field(strict=True, default=None, ge=1, le=10)

    @model_validator(mode="before")
    @classmethod
    def _known_envs(cls, data: Any) -> Any:
        return _check_env_keys(data, "quorum")

    def for_env(self, env: Environment) -> int:
        """Return the quorum for one environment."""
        value: int | None = getattr(self, env.value)
        return value if value is not None else self.default


class ApprovalRule(_Strict):
    """How many approvers a mode needs and how long their approval lasts."""

    quorum: QuorumByEnvironment
    ttl: Duration


class ApprovalsDocument(_Strict):
    """`policies/approvals.yaml`: quorum and TTL per final mode, and who may approve."""

    approver_role: Literal["approver", "admin"] = "approver"
    modes: dict[Literal["CONSULT", "STOP"], ApprovalRule]

    @model_validator(mode="after")
    def _both_modes(self) -> ApprovalsDocument:
        missing = [m for m in ("CONSULT", "STOP") if m not in self.modes]
        if missing:
            raise ValueError(f"missing approval settings for {', '.join(missing)}")
        if any(
            self.modes["STOP"].quorum.for_env(e) < self.modes["CONSULT"].quorum.for_env(e)
            for e in ENVIRONMENTS
        ):
            raise ValueError("STOP must need at least as many approvers as CONSULT")
        return self

    def quorum_for(self, mode: Mode, env: Environment) -> int:
        """Return how many distinct approvers a final mode needs (0 for AUTO)."""
        return 0 if mode is Mode.AUTO else self.modes[mode.name].quorum.for_env(env)  # type: ignore[index]

    def ttl_for(self, mode: Mode) -> timedelta:
        """Return how long an approval for this final mode stays valid (zero for AUTO)."""
        if mode is Mode.AUTO:
            return timedelta(0)
        return timedelta(seconds=self.modes[mode.name].ttl)  # type: ignore[index]


class Policy(_Strict):
    """Everything the engine needs: the four documents plus the sha256 version of their bytes."""

    modes: ModesDocument
    rules: RulesDocument
    signals: SignalsDocument
    approvals: ApprovalsDocument
    version: str = Field(pattern=r"^[0-9a-f]{64}$")
