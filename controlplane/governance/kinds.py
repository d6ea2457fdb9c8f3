"""What a domain registers with the door: how its changes are scoped, decided, run and closed.

Two shapes, one life (DESIGN §1). An `ActionKind` is a change of the plane itself whose whole
state is a `GovernedAction` row (a signal suppression, an incident resolution, a token): the door
stores it, and the kind says how it is judged and what executing it does. A `Subject` is a domain
that keeps its own rows and state machine (deployments): the door tells it when its approval is
decided, and the subject executes. The approval domain stores only `subject_kind` and
`subject_id`; it never imports a subject's domain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlmodel import Session

from controlplane.errors import NotFound
from controlplane.identity.models import Principal
from controlplane.policy.models import Environment

Payload = Mapping[str, Any]


@dataclass(frozen=True)
class Requester:
    """Who asked for a change (a principal then; its name and kind now)."""

    name: str
    kind: str


@dataclass(frozen=True)
class Effect:
    """What a kind's `execute` works with: the transaction, the request and who made it happen."""

    session: Session
    action_id: str
    payload: Payload
    requester: Requester
    actor: Principal  # who executes: the requester (AUTO) or the approver who made the quorum
    approvers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scope:
    """Where a change lands, as the policy judges it."""

    environment: Environment
    service: str | None = None


def judged_in(environment: str | None) -> Environment:
    """Where a change is judged: its environment, or production when it covers all of them."""
    return Environment.parse(environment) if environment else Environment.PRODUCTION


def _no_check(session: Session, payload: Payload, requester: Requester) -> None:
    """Most kinds have nothing to check beyond their payload model."""


def _no_explanation(session: Session, payload: Payload) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class ActionKind:
    """One governed operation of the plane; its name is the policy operation (modes.yaml)."""

    operation: str
    scope: Callable[[Payload], Scope]
    summary: Callable[[Payload], str]
    execute: Callable[[Effect], dict[str, Any]]
    role: str = "operator"
    humans_only: bool = False  # agents and CI may not even ask (e.g. signal.suppress)
    refusal: str = ""  # why machines may not ask, when humans_only
    context: Callable[[Payload], dict[str, Any]] = field(default=lambda payload: {})
    check: Callable[[Session, Payload, Requester], None] = _no_check  # at request and execution
    explain: Callable[[Session, Payload], dict[str, Any]] = _no_explanation  # for reviewers


class Subject(Protocol):
    """A domain with its own rows that the door hands approvals to (deployments).

    When it executes, a subject re-decides its stored request and calls `Door.recheck`, which
    voids the approvals and opens a new request if they no longer cover it.
    """

    def approved(self, session: Session, subject_id: str, actor: Principal) -> None:
        """The quorum is reached: mark it runnable; it runs after the commit (re-checking then)."""
        ...

    def closed(self, session: Session, subject_id: str, status: str, reason: str) -> None:
        """The approval was rejected or expired: the request ends."""
        ...


class Registry:
    """The kinds and subjects one plane knows, by name (built once in the app's wiring)."""

    def __init__(self) -> None:
        self._kinds: dict[str, ActionKind] = {}
        self._subjects: dict[str, Subject] = {}

    def add_kind(self, kind: ActionKind) -> None:
        """Register a governed operation (refusing a second one of the same name)."""
        if kind.operation in self._kinds or kind.operation in self._subjects:
            raise ValueError(f"governed kind {kind.operation!r} registered twice")
        self._kinds[kind.operation] = kind

    def add_subject(self, name: str, subject: Subject) -> None:
        """Register a domain that owns its rows (e.g. `deployment`)."""
        if name in self._kinds or name in self._subjects:
            raise ValueError(f"governed subject {name!r} registered twice")
        self._subjects[name] = subject

    def kind(self, operation: str) -> ActionKind:
        """The kind for an operation; an unregistered one is not governable (fail closed)."""
        found = self._kinds.get(operation)
        if found is None:
            raise NotFound(f"no governed action kind {operation!r}", {"known": sorted(self._kinds)})
        return found

    def subject(self, name: str) -> Subject | None:
        """The domain subject of that name, if one is registered."""
        return self._subjects.get(name)

    def is_kind(self, name: str) -> bool:
        """True when `name` is a door-stored kind (its subject is a GovernedAction row)."""
        return name in self._kinds
