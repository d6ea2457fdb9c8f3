"""Deployment gates (DESIGN §5): small pure checks in priority order; a refusal lists every one.

Adding a gate is adding one function to `GATES`. Each returns a `Verdict`; `evaluate` names it,
runs them all (never stopping at the first failure), and fails closed: no gates, a gate that
raises, or no policy mode reported all refuse the request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from controlplane.deploy.facts import (
    PREDECESSOR,
    SUCCEEDED,
    GateContext,
    ReleaseFact,
    matching,
)
from controlplane.handoff.models import PRODUCTION_TAG
from controlplane.handoff.release import Release
from controlplane.policy.models import Environment, Mode

Outcome = Literal["refused", "approval_required", "execute"]


@dataclass(frozen=True)
class Verdict:
    """What one gate concluded, before the runner puts its name on it."""

    passed: bool
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


def ok(reason: str, **details: Any) -> Verdict:
    """A passing verdict."""
    return Verdict(True, reason, details)


def deny(reason: str, **details: Any) -> Verdict:
    """A failing verdict."""
    return Verdict(False, reason, details)


Gate = Callable[[GateContext], Verdict]


class GateResult(BaseModel):
    """One gate's result as the API and the audit log show it."""

    model_config = ConfigDict(frozen=True)

    name: str
    passed: bool
    reason: str
    details: dict[str, Any] = {}


class GateReport(BaseModel):
    """Every gate's result and what follows: refuse, wait for approvals, or execute now."""

    model_config = ConfigDict(frozen=True)

    results: tuple[GateResult, ...]
    allowed: bool
    outcome: Outcome
    mode: str | None
    required_approvals: int

    def failures(self) -> list[GateResult]:
        """The gates that refused, in priority order."""
        return [r for r in self.results if not r.passed]

    def reasons(self) -> list[str]:
        """One line per failed gate, for error messages."""
        return [f"{r.name}: {r.reason}" for r in self.failures()]


def short(release: Release) -> str:
    """A release as people read it: the name and the first 12 digest characters."""
    return f"{release.name}@sha256:{release.digest[:12]}" if release.digest else release.name


def _clock(at: datetime, now: datetime) -> str:
    fmt = "%H:%M" if at.second == 0 and at.microsecond == 0 else "%H:%M:%S"
    prefix = "" if at.date() == now.date() else "%Y-%m-%d "
    return at.strftime(prefix + fmt) + " UTC"


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


# ---- the gates, in priority order -------------------------------------------------------------


def invariants(ctx: GateContext) -> Verdict:
    """Prevents a request that skipped validation (built in code, reloaded) dodging invariants."""
    found = ctx.request.violations()
    audit = ctx.request.security_audit
    if audit is not None:
        found += audit.violations()
    if not found:
        return ok("every hand-off invariant holds")
    items = [{"invariant": v.invariant, "reason": v.reason} for v in found]
    return deny("; ".join(str(v) for v in found), violations=items)


def promotion_chain(ctx: GateContext) -> Verdict:
    """Prevents skipping an environment: staging needs it succeeded in dev, prod in staging."""
    req = ctx.request
    before = PREDECESSOR.get(req.environment)
    if before is None:
        return ok(f"{req.environment.value} is the first environment of the chain")
    facts = matching(ctx.history, service=req.service, environment=before, release=req.release)
    done = [f for f in facts if f.status == SUCCEEDED]
    if not done:
        return deny(
            f"{short(req.release)} has not succeeded in {before.value}; deploy it there first",
            predecessor=before.value,
        )
    times = [f.finished_at for f in done if f.finished_at is not None]
    last = max(times).isoformat() if times else None
    return ok(f"the same release succeeded in {before.value}", predecessor=before.value, at=last)


def soak_time(ctx: GateContext) -> Verdict:
    """Prevents promoting a release that has not run healthy long enough in the previous env."""
    req = ctx.request
    before = PREDECESSOR.get(req.environment)
    need = ctx.soak_for(req.environment)
    if before is None or need <= timedelta(0):
        return ok(f"no soak required before {req.environment.value}")
    facts = matching(ctx.history, service=req.service, environment=before, release=req.release)
    runs = [f for f in facts if f.status == SUCCEEDED and f.healthy_since is not None]
    base = {"environment": before.value, "required_seconds": need.total_seconds()}
    if not runs:
        return deny(f"no healthy run of {short(req.release)} in {before.value} to soak", **base)
    best = max(runs, key=lambda f: f.healthy_for(ctx.now))
    had = best.healthy_for(ctx.now)
    if had >= need:
        return ok(
            f"{before.value} healthy for {_minutes(had)} min (soak {_minutes(need)} min)",
            elapsed_seconds=had.total_seconds(),
            **base,
        )
    return _not_soaked(ctx, runs, before, need, base)


def _not_soaked(
    ctx: GateContext,
    runs: Sequence[ReleaseFact],
    before: Environment,
    need: timedelta,
    base: dict[str, Any],
) -> Verdict:
    live = [f for f in runs if f.healthy_until is None]
    if not live:
        return deny(
            f"{short(ctx.request.release)} stopped being healthy in {before.value} before "
            f"{_minutes(need)} min; redeploy it there and let it soak",
            **base,
        )
    since = min(f.healthy_since for f in live if f.healthy_since is not None)
    had = max(timedelta(0), ctx.now - since)
    retry = since + need
    return deny(
        f"{before.value} healthy for {_minutes(had)} of {_minutes(need)} min, "
        f"retry after {_clock(retry, ctx.now)}",
        elapsed_seconds=had.total_seconds(),
        healthy_since=since.isoformat(),
        retry_after=retry.isoformat(),
        **base,
    )


def release_tag(ctx: GateContext) -> Verdict:
    """Prevents an untagged build reaching production: only v<major>.<minor>.<patch> tags ship."""
    req = ctx.request
    if req.environment is not Environment.PRODUCTION:
        return ok(f"no release tag needed in {req.environment.value}")
    tag = req.release_tag
    if tag is None or not PRODUCTION_TAG.match(tag):
        return deny(f"production needs a v* release tag (e.g. v1.2.3), got {tag!r}", tag=tag)
    return ok(f"release tag {tag}", tag=tag)


def audit_trusted(ctx: GateContext) -> Verdict:
    """Prevents a client-edited or unsigned audit from vouching for a release outside dev."""
    if ctx.request.environment is Environment.DEV:
        return ok("no security audit required in dev")
    trust = ctx.audit_trust
    if trust is None:
        return deny("the plane cannot verify this security audit (no trusted source)")
    if not trust.trusted:
        return deny(trust.reason)
    return ok(trust.reason)


def security_audit(ctx: GateContext) -> Verdict:
    """Prevents an unaudited, failed or someone else's audit from covering staging or production.

    It judges the audit the plane trusts (the registry's own, or a CI-signed one), not the
    request's copy when they differ (audit_trusted refuses that).
    """
    req = ctx.request
    trusted = ctx.audit_trust.audit if ctx.audit_trust else None
    audit = trusted or req.security_audit
    if req.environment is Environment.DEV:
        return ok("no security audit required in dev")
    if audit is None:
        return deny(f"{req.environment.value} needs a security audit of {short(req.release)}")
    problems = [f"audit failed: {c}" for c in audit.failed_checks()]
    if not audit.passed and not problems:
        problems.append("audit is marked as failed")
    if audit.release != req.release:
        problems.append(f"audit is for {short(audit.release)}, not {short(req.release)}")
    if audit.service != req.service:
        problems.append(f"audit is for service {audit.service}, not {req.service}")
    if problems:
        return deny("; ".join(problems), problems=problems)
    return ok(f"passed security audit of {short(req.release)}")


def freeze_window(ctx: GateContext) -> Verdict:
    """Prevents deploying into a declared change freeze."""
    env = ctx.request.environment
    active = [w for w in ctx.freeze_windows if w.covers(env, ctx.now)]
    if not active:
        return ok(f"no change freeze on {env.value}")
    until = max(w.end for w in active)
    windows = [
        {"start": w.start.isoformat(), "end": w.end.isoformat(), "reason": w.reason} for w in active
    ]
    why = "; ".join(w.reason for w in active)
    return deny(
        f"{env.value} is frozen until {_clock(until, ctx.now)}: {why}",
        windows=windows,
        retry_after=until.isoformat(),
    )


def policy_decision(ctx: GateContext) -> Verdict:
    """Prevents acting without the policy: CONSULT/STOP wait for approvals; a wrong one refuses."""
    req, dec = ctx.request, ctx.decision
    if dec is None:
        return deny("no policy decision for this request")
    scope = (dec.operation, Environment.parse(dec.environment), dec.service)
    wanted = (ctx.operation, req.environment, req.service)
    if scope != wanted:
        return deny(f"the decision {dec.decision_id} is for {scope}, not {wanted}")
    mode = Mode.parse(dec.final_mode)
    base = {"mode": mode.name, "decision_id": dec.decision_id}
    if mode is Mode.AUTO:
        return ok("policy: AUTO, runs now", required_approvals=0, **base)
    needed = max(1, dec.required_approvals)  # fail closed: CONSULT/STOP always need a human
    reasons = "; ".join(dec.reasons)
    return ok(
        f"policy: {mode.name}, waits for {needed} approval(s)"
        + (f" ({reasons})" if reasons else ""),
        required_approvals=needed,
        **base,
    )


GATES: tuple[Gate, ...] = (
    invariants,
    promotion_chain,
    soak_time,
    release_tag,
    audit_trusted,
    security_audit,
    freeze_window,
    policy_decision,
)


def _run(gate: Gate, ctx: GateContext) -> GateResult:
    name = getattr(gate, "__name__", type(gate).__name__)
    try:
        v = gate(ctx)
    except Exception as exc:  # a broken gate refuses; it never waves a request through
        return GateResult(name=name, passed=False, reason=f"gate raised {exc!r}")
    return GateResult(name=name, passed=v.passed, reason=v.reason, details=v.details)


def evaluate(ctx: GateContext, gates: Sequence[Gate] = GATES) -> GateReport:
    """Run every gate in order and conclude; no gates, or no policy mode, refuses."""
    results = [_run(g, ctx) for g in gates]
    if not results:
        results.append(GateResult(name="no_gates", passed=False, reason="no gates configured"))
    modes = [r.details["mode"] for r in results if r.passed and "mode" in r.details]
    if not modes:
        results.append(
            GateResult(name="no_decision", passed=False, reason="no gate reported a policy mode")
        )
    mode = max(modes, key=Mode.parse) if modes else None
    approvals = max((int(r.details.get("required_approvals", 0)) for r in results), default=0)
    allowed = all(r.passed for r in results)
    outcome: Outcome = "refused"
    if allowed:
        outcome = "approval_required" if approvals > 0 else "execute"
    return GateReport(
        results=tuple(results),
        allowed=allowed,
        outcome=outcome,
        mode=mode,
        required_approvals=approvals if allowed else 0,
    )
