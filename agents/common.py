"""What every agent shares: its own identity, one client, plain reports and exit codes.

An agent is a program with an agent (or CI) identity: CONTROLPLANE_TOKEN must be set (never the
admin token file), and the plane must say the token is an agent's. It talks to the plane only
through `controlplane.client`, and it never approves: what needs a human is reported and left.

Exit codes (as `opsctl`): 0 done, 1 refused or failed, 2 usage or identity, 3 waits for
humans, 4 still running when the wait ran out.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from controlplane.client import TOKEN_ENV, ControlPlaneClient, outcome
from controlplane.errors import ControlPlaneError

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_PENDING = 3
EXIT_STILL_RUNNING = 4
AGENT_KINDS = frozenset({"agent", "ci"})


class AgentExit(Exception):
    """Stop the agent with an exit code and the line that says why."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def say(text: str) -> None:
    """One line for the person reading the CI log or the terminal."""
    print(text, flush=True)


def connect(env: Mapping[str, str] | None = None) -> ControlPlaneClient:
    """The client for this agent's own identity; refuse to run as anyone else."""
    env = os.environ if env is None else env
    if not env.get(TOKEN_ENV, "").strip():
        raise AgentExit(
            EXIT_USAGE,
            f"{TOKEN_ENV} is not set: an agent acts as its own identity (issue one with "
            "`opsctl token create NAME --kind agent --role operator`)",
        )
    client = ControlPlaneClient.from_env(env)
    me = client.whoami()
    if me["kind"] not in AGENT_KINDS:
        client.close()
        raise AgentExit(
            EXIT_USAGE,
            f"{TOKEN_ENV} belongs to {me['name']} ({me['kind']}); agents run with an agent or "
            "CI identity, never a person's",
        )
    return client


@contextmanager
def reported() -> Iterator[None]:
    """Turn a plane refusal or an AgentExit into its report and exit code."""
    try:
        yield
    except AgentExit as stop:
        print(stop.message, file=sys.stderr if stop.code == EXIT_USAGE else sys.stdout)
        raise SystemExit(stop.code) from None
    except ControlPlaneError as exc:
        say(f"refused by the plane: {exc.diagnostics()}")
        raise SystemExit(EXIT_REFUSED) from None


def run(main: Callable[[], int]) -> None:
    """Run an agent's main with reports and exit codes."""
    with reported():
        code = main()
    raise SystemExit(code)


def emit(document: Any) -> None:
    """One JSON document on stdout (for `--json`)."""
    print(json.dumps(document, indent=2, sort_keys=True, default=str), flush=True)


def waiting_line(kind: str, state: Mapping[str, Any], approval: Mapping[str, Any] | None) -> str:
    """What a human must do for a change held for approval, in one line."""
    if kind == "run":
        step: Mapping[str, Any] = next(
            (s for s in state["steps"] if s["status"] == "pending_approval"), {}
        )
        what = f"run {state['id']} paused at step {step.get('step_id')} ({step.get('mode')})"
        need, got = step.get("required_approvals", 0), step.get("approvals", 0)
        approval_id = step.get("approval_id")
    else:
        what = f"{kind} {state['id']} is {state.get('mode')}"
        need, got = state.get("required_approvals", 0), state.get("approvals", 0)
        approval_id = state.get("approval_id")
    expires = (approval or {}).get("expires_at", "unknown")
    return (
        f"{what}: waits for {need - got} of {need} human approvers (approval {approval_id}, "
        f"expires {expires}); this agent cannot approve: ask a reviewer to run "
        f"`opsctl approve {approval_id}`"
    )


def finish(kind: str, state: Mapping[str, Any], client: ControlPlaneClient) -> int:
    """Report where a followed change ended and return the exit code that says it."""
    where = outcome(kind, state)  # type: ignore[arg-type]
    if where == "succeeded":
        say(f"{kind} {state['id']} succeeded: {state.get('message', '')}".rstrip(": "))
        return EXIT_OK
    if where == "pending_approval":
        approval_id = _approval_id(kind, state)
        approval = _read_approval(client, approval_id)
        say(waiting_line(kind, state, approval))
        return EXIT_PENDING
    if where == "moving":
        say(f"{kind} {state['id']} is still {state['status']}; the plane goes on with it")
        return EXIT_STILL_RUNNING
    reason = state.get("failure_reason") or state.get("reason") or state.get("message")
    say(f"{kind} {state['id']} {state['status']}: {reason}")
    return EXIT_REFUSED


def _approval_id(kind: str, state: Mapping[str, Any]) -> str | None:
    if kind != "run":
        return state.get("approval_id")
    step = next((s for s in state["steps"] if s["status"] == "pending_approval"), None)
    return step.get("approval_id") if step else None


def _read_approval(client: ControlPlaneClient, approval_id: str | None) -> dict[str, Any] | None:
    if not approval_id:
        return None
    try:
        return dict(client.get_approval(approval_id))
    except ControlPlaneError:
        return None
