"""The one registry of playbook actions (DESIGN §6): each a small typed function."""

from __future__ import annotations

from controlplane.playbook.actions import incident, ml, ops, workload
from controlplane.playbook.actions.base import ActionRegistry


def registry() -> ActionRegistry:
    """Every action the plane's playbooks may name."""
    found = [*workload.actions(), *incident.actions(), *ops.actions(), *ml.actions()]
    return ActionRegistry(found)
