"""Builders for the gate tests: a request, its audit, a decision, release history, a context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from controlplane.deploy.facts import FreezeWindow, GateContext, ReleaseFact
from controlplane.handoff.models import DeploymentRequest, SecurityAuditResult
from controlplane.handoff.release import Release
from controlplane.policy.models import Decision, Environment

NOW = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)
DIGEST = "ab" * 32
RELEASE = f"bankchurn@sha256:{DIGEST}"
OTHER_RELEASE = f"bankchurn@sha256:{'cd' * 32}"


def make_audit(**overrides: Any) -> SecurityAuditResult:
    """A passed audit of RELEASE; override any field (keep `passed` consistent yourself)."""
    fields: dict[str, Any] = {
        "service": "bankchurn",
        "release": RELEASE,
        "signature_verified": True,
        "sbom_attested": True,
        "critical_findings": 0,
        "high_findings": 0,
        "secret_findings": 0,
        "least_privilege_verified": True,
        "passed": True,
        "created_at": NOW - timedelta(hours=1),
    }
    fields.update(overrides)
    return SecurityAuditResult(**fields)


def make_deployment_request(**overrides: Any) -> DeploymentRequest:
    """A valid production request for RELEASE tagged v1.2.3 with a passed audit."""
    fields: dict[str, Any] = {
        "service": "bankchurn",
        "environment": "production",
        "release": RELEASE,
        "release_tag": "v1.2.3",
        "commit_sha": "a1b2c3d",
        "security_audit": make_audit(),
    }
    fields.update(overrides)
    return DeploymentRequest(**fields)


def make_decision(mode: str = "AUTO", **overrides: Any) -> Decision:
    """A policy decision for deploying bankchurn to production in the given mode."""
    fields: dict[str, Any] = {
        "decision_id": "dec-1",
        "operation": "deploy",
        "environment": Environment.PRODUCTION,
        "service": "bankchurn",
        "actor": "alice",
        "base_mode": mode,
        "final_mode": mode,
        "signals": [],
        "reasons": [],
        "required_approvals": {"AUTO": 0, "CONSULT": 1, "STOP": 2}[mode],
        "policy_version": "0" * 64,
        "counterfactual": "",
        "decided_at": NOW,
    }
    fields.update(overrides)
    return Decision(**fields)


def make_fact(environment: str = "staging", **overrides: Any) -> ReleaseFact:
    """RELEASE succeeded in an environment and has been healthy for 30 minutes."""
    fields: dict[str, Any] = {
        "service": "bankchurn",
        "environment": Environment.parse(environment),
        "release": Release.parse(RELEASE),
        "status": "succeeded",
        "finished_at": NOW - timedelta(minutes=31),
        "healthy_since": NOW - timedelta(minutes=30),
    }
    fields.update(overrides)
    return ReleaseFact(**fields)


def make_freeze(**overrides: Any) -> FreezeWindow:
    """A production freeze from an hour ago to an hour from now."""
    fields: dict[str, Any] = {
        "start": NOW - timedelta(hours=1),
        "end": NOW + timedelta(hours=1),
        "reason": "quarter-end freeze",
        "environments": frozenset({Environment.PRODUCTION}),
    }
    fields.update(overrides)
    return FreezeWindow(**fields)


def make_context(**overrides: Any) -> GateContext:
    """A production request that passes every gate: chained, soaked, tagged, audited, AUTO."""
    fields: dict[str, Any] = {
        "request": make_deployment_request(),
        "now": NOW,
        "decision": make_decision(),
        "history": (make_fact("dev"), make_fact("staging")),
    }
    fields.update(overrides)
    return GateContext(**fields)
