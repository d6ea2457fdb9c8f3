"""Change freezes declared in a YAML file (CONTROLPLANE_FREEZE_FILE); unreadable means frozen.

A file that does not exist declares no freezes.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from controlplane.deploy.facts import FreezeWindow
from controlplane.policy.models import Environment


class _Window(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field(min_length=3, max_length=500)
    environments: list[str] = Field(default_factory=list)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    freezes: list[_Window] = Field(default_factory=list)


def load_freezes(path: Path | None, now: datetime) -> list[FreezeWindow]:
    """The declared freezes; none without a file; one that cannot be read or parsed freezes all."""
    if path is None or not path.exists():
        return []
    try:
        parsed = _File.model_validate(yaml.safe_load(path.read_text()) or {})
        return [
            FreezeWindow(
                start=w.start,
                end=w.end,
                reason=w.reason,
                environments=frozenset(Environment.parse(e) for e in w.environments),
            )
            for w in parsed.freezes
        ]
    except (OSError, yaml.YAMLError, ValidationError, ValueError) as exc:
        reason = f"freeze file {path} is unreadable ({exc.__class__.__name__}); frozen until fixed"
        return [FreezeWindow(start=now, end=now.replace(year=now.year + 100), reason=reason)]
