"""Tool annotations derived from the policy in force: what a client may show before a call.

Pure: the policy's base modes (operation -> environment -> mode, as GET /v1/policies lists
them) and the operations each tool can ask for go in; hints come out. Rules and risk signals
only ever raise a mode, so a tool whose operations are STOP somewhere is marked destructive
and flagged as needing the user's attention; a read tool changes nothing. An operation the
policy does not list is STOP (the plane fails closed, and so do the hints).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MODES = ("AUTO", "CONSULT", "STOP")
# `_meta` key clients can honour (no standard ToolAnnotations field says this yet).
REQUIRES_USER = "io.controlplane/requiresUserInteraction"
MAX_MODE = "io.controlplane/maxMode"
OPERATIONS = "io.controlplane/operations"


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the policy sees it: its name, title, and the operations it can ask for."""

    name: str
    title: str
    operations: tuple[str, ...] = ()
    read_only: bool = False


@dataclass(frozen=True)
class Hints:
    """The MCP annotations and `_meta` of one tool."""

    title: str
    read_only: bool
    destructive: bool
    idempotent: bool
    max_mode: str | None
    requires_user: bool

    def meta(self, operations: Iterable[str]) -> dict[str, object]:
        """The `_meta` entries: the worst mode, the operations, and whether a human is needed."""
        out: dict[str, object] = {REQUIRES_USER: self.requires_user}
        if self.max_mode is not None:
            out[MAX_MODE] = self.max_mode
            out[OPERATIONS] = sorted(set(operations))
        return out


def worst_mode(operations: Iterable[str], modes: Mapping[str, Mapping[str, str]]) -> str:
    """The strictest base mode any of these operations has in any environment."""
    rank = -1
    for operation in operations:
        per_env = modes.get(operation)
        if not per_env:
            return "STOP"  # unlisted: STOP (fail-closed)
        for mode in per_env.values():
            rank = max(rank, MODES.index(mode) if mode in MODES else len(MODES) - 1)
    return MODES[rank] if rank >= 0 else "AUTO"


def derive(spec: ToolSpec, modes: Mapping[str, Mapping[str, str]]) -> Hints:
    """Hints for one tool under this policy."""
    if spec.read_only:
        return Hints(spec.title, True, False, True, None, False)
    worst = worst_mode(spec.operations, modes)
    stop = worst == "STOP"
    return Hints(spec.title, False, stop, False, worst, stop)


def playbook_operations(playbooks: Iterable[Mapping[str, object]]) -> tuple[str, ...]:
    """Every operation a step of any loaded playbook runs (GET /v1/playbooks `data`)."""
    found: set[str] = {"playbook.run"}
    for book in playbooks:
        steps = book.get("steps")
        if isinstance(steps, list):
            found.update(str(s["operation"]) for s in steps if isinstance(s, dict))
    return tuple(sorted(found))
