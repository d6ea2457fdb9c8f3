"""Logs of the local backend's processes: which file a request means, and reading it by cursor."""

from __future__ import annotations

import os
from pathlib import Path

from controlplane.adapters.base import LogChunk, Target
from controlplane.adapters.workload.local_process import log_tail
from controlplane.adapters.workload.local_state import Instance, TargetState
from controlplane.errors import InvalidSpec, NotFound

LOG_BLOCK = 64 * 1024
LOG_READ_MAX = 1024 * 1024  # one call returns at most this much; a follower asks again


def chunk(
    ts: TargetState | None, target: Target, release: str | None, *, tail: int, after: str | None
) -> LogChunk:
    """Read the log `pick` chooses: its last `tail` lines, or those after the cursor `after`."""
    record = pick(ts, release)
    if record is None:
        which = f"of {release} " if release else ""
        raise NotFound(f"no log {which}for {target.key}", {"target": target.key})
    path = Path(record["log"])
    if not path.is_file():
        raise NotFound(f"the log {path} of {target.key} is gone", {"target": target.key})
    lines, end = read_lines(path, tail=tail, after=_offset(after, path))
    return LogChunk(target, record["release"], str(path), lines, f"{path.name}:{end}")


def newest(ts: TargetState, inst: Instance | None) -> str | None:
    """The log that says most about a target that does not run: its instance's, or the newest."""
    if inst is not None:
        return inst.log
    return ts.logs[-1]["log"] if ts.logs else None


def details(log: str | None) -> dict[str, str]:
    """`log` and `log_tail` for a status that explains itself."""
    if log is None:
        return {"log_tail": ""}
    return {"log": log, "log_tail": log_tail(Path(log))}


def pick(ts: TargetState | None, release: str | None) -> dict[str, str] | None:
    """The active instance's log record, else the newest one (of `release`, when given)."""
    if ts is None:
        return None
    if release is None and ts.active is not None:
        active = ts.active
        match = [r for r in ts.logs if r["log"] == active.log]
        return match[-1] if match else {"release": active.release["ref"], "log": active.log}
    records = [r for r in ts.logs if release is None or r["release"].startswith(release)]
    return records[-1] if records else None


def _offset(after: str | None, path: Path) -> int | None:
    """The byte offset a cursor points at in `path`; 0 when it was taken on another log."""
    if after is None:
        return None
    name, _, offset = after.rpartition(":")
    if not offset.isdigit():
        raise InvalidSpec(f"{after!r} is not a log cursor", {"field": "after"})
    return int(offset) if name in ("", path.name) else 0


def read_lines(path: Path, *, tail: int, after: int | None = None) -> tuple[list[str], int]:
    """Complete lines of a log, the last `tail` or all after byte `after`; and the offset reached.

    A line still being written is left for the next read, so a follower never sees it split.
    """
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        if after is not None:
            start = after if after <= size else 0  # a shorter file is another file: from the top
            fh.seek(start)
            data = fh.read(LOG_READ_MAX)
        else:
            start, data = size, b""
            while start > 0 and data.count(b"\n") <= tail and len(data) < LOG_READ_MAX:
                step = min(start, LOG_BLOCK)
                start -= step
                fh.seek(start)
                data = fh.read(step) + data
    complete = data[: data.rfind(b"\n") + 1]
    lines = complete.decode(errors="replace").splitlines()
    if after is None:
        lines = lines[-tail:] if tail > 0 else []
    return lines, start + len(complete)
