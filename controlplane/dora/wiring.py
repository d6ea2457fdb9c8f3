"""DORA's long-lived parts per plane: the commit-time cache and the training-time lookup.

Built once per app (AppContext.dora) and kept, like the release registry: the cache is what keeps
a dashboard refresh from asking GitHub again. GitHub is the plane's one SourceControl client.
"""

from __future__ import annotations

from dataclasses import dataclass

from controlplane.adapters.source_control import SourceControl
from controlplane.config import Settings
from controlplane.dora.commits import CommitTimes
from controlplane.dora.training import TrainingTimes


@dataclass(frozen=True)
class DoraParts:
    """What the DORA service is handed besides the session and the clock."""

    commits: CommitTimes | None
    training: TrainingTimes


def dora_parts(settings: Settings, source: SourceControl | None) -> DoraParts:
    """Commit times from the plane's source control when a repository is set, else none."""
    commits = CommitTimes(source, settings.github_repo) if source and settings.github_repo else None
    return DoraParts(commits, TrainingTimes(settings.state_dir / "releases"))
