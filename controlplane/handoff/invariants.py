"""Named invariants: a hand-off that breaks one refuses to exist and says which one it broke."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

SERVICE_PATTERN = r"^[a-z][a-z0-9_-]{1,63}$"
KNOWN_SERVICES = ("bankchurn", "nlpinsight", "chicagotaxi")  # the managed ML services (§9)
SHA256_PATTERN = r"^[a-f0-9]{64}$"
COMMIT_PATTERN = r"^[0-9a-f]{7,40}$"


def invariant_error(name: str, reason: str) -> PydanticCustomError:
    """The one spelling of a broken invariant: `invariant <name>: <reason>`."""
    return PydanticCustomError(
        "invariant", "invariant {invariant}: {reason}", {"invariant": name, "reason": reason}
    )


@dataclass(frozen=True)
class Invariant:
    """A named rule over a whole hand-off; `check` returns the reason it is broken, or None."""

    name: str
    check: Callable[[Any], str | None]


@dataclass(frozen=True)
class Violation:
    """One broken invariant, for gates and reports that list every problem at once."""

    invariant: str
    reason: str

    def __str__(self) -> str:
        return f"invariant {self.invariant}: {self.reason}"


def violations(obj: object, invariants: Sequence[Invariant]) -> list[Violation]:
    """Every invariant `obj` breaks, in the order they are declared."""
    found = []
    for inv in invariants:
        reason = inv.check(obj)
        if reason is not None:
            found.append(Violation(inv.name, reason))
    return found


def raise_violations(title: str, found: Sequence[Violation]) -> None:
    """Raise one ValidationError carrying every violation (no-op when there is none)."""
    if not found:
        return
    errors = [
        InitErrorDetails(type=invariant_error(v.invariant, v.reason), loc=(), input=None)
        for v in found
    ]
    raise ValidationError.from_exception_data(title, errors)


class Handoff(BaseModel):
    """Base of every hand-off: frozen, no unknown fields, invariants checked on construction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    invariants: ClassVar[tuple[Invariant, ...]] = ()

    @model_validator(mode="after")
    def _check_invariants(self) -> Self:
        raise_violations(type(self).__name__, self.violations())
        return self

    def violations(self) -> list[Violation]:
        """Re-check the invariants (gates call it on requests that skipped validation)."""
        return violations(self, type(self).invariants)
