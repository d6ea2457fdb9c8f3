"""DORA's long-lived parts per plane: the commit-time cache and the training-time lookup.

Built once per (state folder, source control) and kept, like the release registry of
release/routes.py: the cache is what keeps a dashboard refresh from asking GitHub again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from controlplane.config import Settings
from controlplane.dora.commits import CommitTimes
from controlplane.dora.training import TrainingTimes


@dataclass(frozen=True)
class DoraParts:
    """What the DORA service is handed besides the session and the clock."""

    commits: CommitTimes | None
    training: TrainingTimes


_PARTS: dict[tuple[Path, str, str | None], DoraParts] = {}
_LOCK = threading.Lock()


def parts(settings: Settings) -> DoraParts:
    """The parts for this plane's settings (GitHub only when a token and a repo are set)."""
    key = (settings.state_dir.resolve(), settings.github_api_url, settings.github_repo)
    with _LOCK:
        found = _PARTS.get(key)
        if found is None:
            found = _PARTS[key] = DoraParts(_commits(settings), _training(settings))
        return found


def _commits(settings: Settings) -> CommitTimes | None:
    if not (settings.github_token and settings.github_repo):
        return None
    from controlplane.adapters.source_control_github import GithubSourceControl  # PyGithub: heavy

    source = GithubSourceControl.connect(
        settings.github_token, settings.github_api_url, settings.github_timeout_s
    )
    return CommitTimes(source, settings.github_repo)


def _training(settings: Settings) -> TrainingTimes:
    return TrainingTimes(settings.state_dir / "releases")
