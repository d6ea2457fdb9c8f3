"""What an MCP tool answers, shaped from the plane's JSON (pure: dicts in, dicts out).

A change the plane holds for humans is `pending_approval` with the request id, the quorum and
the expiry, never a success; one it finished is `succeeded`; one still moving says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

APPROVER_ROLE = "approver"
NOBODY_HERE = "agents never approve; the requester never approves their own request"


def _why(decision: Mapping[str, Any]) -> dict[str, Any]:
    """The decision's explanation, trimmed to what a model needs to tell a person."""
    signals = [
        {k: s.get(k) for k in ("name", "state", "source")}
        for s in decision.get("signals") or []
        if isinstance(s, Mapping) and s.get("state") not in (None, "inactive")
    ]
    return {
        "base_mode": decision.get("base_mode"),
        "final_mode": decision.get("final_mode"),
        "reasons": list(decision.get("reasons") or []),
        "signals": signals,
        "counterfactual": decision.get("counterfactual"),
    }


def pending_approval(
    kind: str,
    subject: Mapping[str, Any],
    approval: Mapping[str, Any] | None,
    *,
    approval_id: str | None,
    required: int,
    approvals: int,
    mode: str | None,
    decision: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A request waiting for humans: who must approve, how many, until when, and why."""
    explanation = (approval or {}).get("explanation") or {}
    why = _why(decision or explanation.get("decision") or explanation)
    if approval is not None:  # a step's explanation names no signals: the approval's snapshot
        why["final_mode"] = why["final_mode"] or approval.get("mode")
        if not why["signals"]:
            why["signals"] = _why({"signals": approval.get("risk_snapshot")})["signals"]
    expires = (approval or {}).get("expires_at")
    people = "human" if required == 1 else "humans"
    return {
        "status": "pending_approval",
        "kind": kind,
        "request_id": subject["id"],
        "approval_id": approval_id,
        "mode": mode,
        "quorum": {
            "required": required,
            "approvals": approvals,
            "role": APPROVER_ROLE,
            "rule": NOBODY_HERE,
        },
        "expires_at": expires,
        "why": why,
        "message": (
            f"{mode}: needs {required - approvals} of {required} {people} with the "
            f"{APPROVER_ROLE} role (approval {approval_id}, expires {expires}); this agent "
            "cannot approve. Poll get_request_status with request_id, or ask a reviewer to run "
            f"`opsctl approve {approval_id}`."
        ),
    }


def deployment_answer(dep: Mapping[str, Any], approval: Mapping[str, Any] | None) -> dict[str, Any]:
    """A deployment as a tool answer."""
    if dep["status"] == "pending_approval":
        return pending_approval(
            "deployment",
            dep,
            approval,
            approval_id=dep.get("approval_id"),
            required=int(dep.get("required_approvals") or 0),
            approvals=int(dep.get("approvals") or 0),
            mode=dep.get("mode"),
            decision=dep.get("decision") or None,
        )
    return {
        "status": dep["status"],
        "kind": "deployment",
        "request_id": dep["id"],
        "service": dep.get("service"),
        "environment": dep.get("environment"),
        "release": dep.get("release"),
        "mode": dep.get("mode"),
        "failure_reason": dep.get("failure_reason"),
        "message": dep.get("message"),
    }


def paused_step(run: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The step of a paused run that waits for approval, if any."""
    return next((s for s in run.get("steps") or [] if s["status"] == "pending_approval"), None)


def run_answer(run: Mapping[str, Any], approval: Mapping[str, Any] | None) -> dict[str, Any]:
    """A playbook run as a tool answer (a paused one is pending_approval on its step)."""
    step = paused_step(run)
    if run["status"] == "paused" and step is not None:
        out = pending_approval(
            "run",
            run,
            approval,
            approval_id=step.get("approval_id"),
            required=int(step.get("required_approvals") or 0),
            approvals=int(step.get("approvals") or 0),
            mode=step.get("mode"),
        )
        out["step"] = {"id": step["step_id"], "operation": step["operation"]}
        if not out["why"]["reasons"]:
            out["why"]["reasons"] = list(step.get("reasons") or [])
        return out
    steps = [
        {"id": s["step_id"], "status": s["status"], "mode": s.get("mode"), "error": s.get("error")}
        for s in run.get("steps") or []
    ]
    return {
        "status": run["status"],
        "kind": "run",
        "request_id": run["id"],
        "playbook": run.get("playbook"),
        "message": run.get("message"),
        "reason": run.get("reason"),
        "steps": steps,
    }


def action_answer(action: Mapping[str, Any], approval: Mapping[str, Any] | None) -> dict[str, Any]:
    """A governed action (override, suppression, token...) as a tool answer."""
    if action["status"] == "pending_approval":
        return pending_approval(
            "action",
            action,
            approval,
            approval_id=action.get("approval_id"),
            required=int(action.get("required_approvals") or 0),
            approvals=int(action.get("approvals") or 0),
            mode=action.get("mode"),
            decision=action.get("decision") or None,
        )
    return {
        "status": action["status"],
        "kind": "action",
        "request_id": action["id"],
        "summary": action.get("summary"),
        "failure_reason": action.get("failure_reason"),
        "message": action.get("message"),
    }


def decision_answer(decision: Mapping[str, Any]) -> dict[str, Any]:
    """A decision with what its mode means for the caller, in one line."""
    mode = decision["final_mode"]
    need = int(decision.get("required_approvals") or 0)
    meaning = {
        "AUTO": "allowed now: go ahead through the plane",
        "CONSULT": f"needs {need} human approver; request it and wait, do not act",
        "STOP": f"halted: needs {need} human approvers through the governed path; do not act",
    }.get(mode, "unknown mode: do not act")
    return {**dict(decision), "meaning": meaning}
