"""The counting action for plane processes (CONTROLPLANE_PLAYBOOK_ACTIONS)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from controlplane.playbook.actions.base import Action
from tests.playbook.conftest import touch_action


def actions() -> list[Action[Any, Any]]:
    """The touch action writing where the test reads (CONTROLPLANE_EFFECTS)."""
    return [touch_action(Path(os.environ["CONTROLPLANE_EFFECTS"]))]
