"""Following what the plane runs off the request (an action, a deployment or a run) until it
ends or pauses for humans; the plane decides the outcome, the wait only watches."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, cast

from controlplane.client.transport import Transport
from controlplane.client_types import RUN_MOVING, RUNNING, DeploymentOut
from controlplane.errors import InvalidRequest, Unavailable

Followed = Literal["action", "deployment", "run"]
Outcome = Literal["succeeded", "pending_approval", "moving", "failed"]

PATHS: dict[Followed, str] = {
    "action": "/v1/actions/{}",
    "deployment": "/v1/deployments/{}",
    "run": "/v1/runs/{}",
}
MOVING: dict[Followed, frozenset[str]] = {
    "action": RUNNING,
    "deployment": RUNNING,
    "run": RUN_MOVING,
}
WAITING_FOR_HUMANS: dict[Followed, str] = {
    "action": "pending_approval",
    "deployment": "pending_approval",
    "run": "paused",
}


def kind_of(subject: Mapping[str, Any]) -> Followed:
    """Tell an answer's kind by its fields, so `wait(answer)` needs no kind."""
    if "playbook" in subject and "steps" in subject:
        return "run"
    if "release" in subject and "gates" in subject:
        return "deployment"
    if "requested_kind" in subject and "summary" in subject:
        return "action"
    raise InvalidRequest(
        "this answer is not something the plane runs off the request (an action, a "
        "deployment or a run); it is already final",
        {"field": "subject", "reason": f"fields {sorted(subject)[:8]}"},
    )


def outcome(kind: Followed, state: Mapping[str, Any]) -> Outcome:
    """Where a followed thing stands: done, waiting for humans, still moving, or not done."""
    status = str(state.get("status"))
    if status == "succeeded":
        return "succeeded"
    if status == WAITING_FOR_HUMANS[kind]:
        return "pending_approval"
    if status in MOVING[kind]:
        return "moving"
    return "failed"  # failed, rejected, expired, cancelled, voided, refused...


class WaitCalls(Transport):
    """`wait()` and its two typed forms."""

    def wait(
        self,
        subject: Mapping[str, Any] | str,
        *,
        kind: Followed | None = None,
        timeout_s: float | None = None,
        poll_s: float = 0.5,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Follow an action, deployment or run (an answer, or an id with `kind`) until it ends
        or pauses for approval, or `timeout_s` passes; return its last state.

        A poll the plane does not answer in time is retried; a timeout only stops following
        (the plane goes on). `on_update` sees every state read.
        """
        if isinstance(subject, str):
            if kind is None:
                raise InvalidRequest(
                    "wait(id) needs kind='action', 'deployment' or 'run'",
                    {"field": "kind", "reason": "required with an id"},
                )
            ident = subject
        else:
            kind = kind or kind_of(subject)
            ident = str(subject["id"])
        path = PATHS[kind].format(ident)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        state: dict[str, Any] | None = None
        while True:
            try:
                state = cast(dict[str, Any], self._request("GET", path))
            except Unavailable:
                if state is None and deadline is not None and time.monotonic() > deadline:
                    raise
            else:
                if on_update is not None:
                    on_update(state)
                if state["status"] not in MOVING[kind]:
                    return state
            if deadline is not None and time.monotonic() >= deadline and state is not None:
                return state
            time.sleep(poll_s)

    def wait_for_deployment(
        self,
        deployment_id: str,
        *,
        timeout_s: float | None = None,
        poll_s: float = 0.5,
        on_update: Callable[[DeploymentOut], None] | None = None,
    ) -> DeploymentOut:
        """Follow a deployment until it leaves approved/executing (see `wait`)."""
        seen = cast(Callable[[dict[str, Any]], None] | None, on_update)
        state = self.wait(
            deployment_id, kind="deployment", timeout_s=timeout_s, poll_s=poll_s, on_update=seen
        )
        return cast(DeploymentOut, state)

    def wait_for_run(
        self,
        run_id: str,
        *,
        timeout_s: float | None = None,
        poll_s: float = 0.5,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Follow a run until it ends or pauses for humans (see `wait`)."""
        return self.wait(
            run_id, kind="run", timeout_s=timeout_s, poll_s=poll_s, on_update=on_update
        )
