"""Heavy ML work (training, loading models) runs in a subprocess of the services' interpreter,
bounded by a timeout, never in the plane's process; failures become ActionFailed with the tail
of what the job said."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from controlplane.playbook.actions.base import ActionFailed, StepContext
from controlplane.release.registry import REPO_ROOT

TAIL = 1500  # characters of a failed job's stderr kept in the reason


def run_module(
    ctx: StepContext, module: str, args: Sequence[str], *, timeout_s: float, what: str
) -> str:
    """`python -m module args...` from the repository root; its stdout, or ActionFailed."""
    cmd = [str(ctx.tools.python), "-m", module, *args]
    try:
        proc = subprocess.run(
            cmd,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ActionFailed(
            f"{what} took longer than {timeout_s:g} s and was stopped",
            error="timeout",
            retryable=False,
        ) from None
    except OSError as exc:
        raise ActionFailed(
            f"{what} could not start ({cmd[0]}): {exc}", error="job_failed"
        ) from None
    if proc.returncode != 0:
        raise ActionFailed(
            f"{what} failed (exit {proc.returncode}): {proc.stderr.strip()[-TAIL:]}",
            error="job_failed",
            retryable=False,
        )
    return proc.stdout
