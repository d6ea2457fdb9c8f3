"""Each deployment gate passes and refuses on its own; the report lists every failure."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
from factories import (
    NOW,
    OTHER_RELEASE,
    make_audit,
    make_context,
    make_decision,
    make_deployment_request,
    make_fact,
    make_freeze,
)

from controlplane.deploy import gates
from controlplane.deploy.facts import AuditTrust, GateContext
from controlplane.deploy.gates import GATES, evaluate
from controlplane.handoff.models import DeploymentRequest
from controlplane.policy.models import Environment


def result(ctx: GateContext, name: str) -> gates.GateResult:
    """The named gate's result in a full evaluation."""
    return next(r for r in evaluate(ctx).results if r.name == name)


def test_gates_are_listed_in_priority_order() -> None:
    names = [g.__name__ for g in GATES]
    assert names == [
        "invariants",
        "promotion_chain",
        "soak_time",
        "release_tag",
        "audit_trusted",
        "security_audit",
        "freeze_window",
        "policy_decision",
    ]


@pytest.mark.parametrize("gate", GATES, ids=lambda g: g.__name__)
def test_every_gate_says_what_it_prevents(gate: gates.Gate) -> None:
    assert (gate.__doc__ or "").startswith("Prevents ")


def test_a_clean_production_request_passes_every_gate_and_executes() -> None:
    report = evaluate(make_context())
    assert [r.passed for r in report.results] == [True] * len(GATES)
    assert (report.allowed, report.outcome, report.mode) == (True, "execute", "AUTO")
    assert report.failures() == []


# ---- invariants --------------------------------------------------------------------------------


def test_invariants_gate_catches_a_request_that_skipped_validation() -> None:
    good = make_deployment_request()
    bad = DeploymentRequest.model_construct(**{**dict(good), "release_tag": None})
    r = result(make_context(request=bad), "invariants")
    assert not r.passed
    assert "invariant production_requires_release_tag" in r.reason
    assert r.details["violations"][0]["invariant"] == "production_requires_release_tag"


def test_invariants_gate_rechecks_the_nested_audit() -> None:
    audit = make_audit().model_copy(update={"signature_verified": False})  # copy skips validation
    req = make_deployment_request().model_copy(update={"security_audit": audit})
    r = result(make_context(request=req), "invariants")
    assert not r.passed
    assert "audit_passed_matches_checks" in r.reason


# ---- promotion chain ---------------------------------------------------------------------------


def test_dev_needs_no_predecessor() -> None:
    req = make_deployment_request(environment="dev", release_tag=None)
    ctx = make_context(request=req, history=(), decision=make_decision(environment="dev"))
    assert result(ctx, "promotion_chain").passed


def test_staging_needs_the_same_release_succeeded_in_dev() -> None:
    req = make_deployment_request(environment="staging", release_tag=None)
    dec = make_decision("CONSULT", environment="staging")
    assert result(make_context(request=req, decision=dec), "promotion_chain").passed
    refused = result(make_context(request=req, decision=dec, history=()), "promotion_chain")
    assert not refused.passed
    assert "has not succeeded in dev" in refused.reason


@pytest.mark.parametrize(
    "fact",
    [
        make_fact("staging", status="failed"),
        make_fact("staging", release=make_fact().release.__class__.parse(OTHER_RELEASE)),
        make_fact("staging", service="nlpinsight"),
        make_fact("dev"),
    ],
    ids=["failed-there", "other-release", "other-service", "only-in-dev"],
)
def test_production_needs_the_same_release_succeeded_in_staging(fact: object) -> None:
    r = result(make_context(history=(fact,)), "promotion_chain")
    assert not r.passed
    assert r.details["predecessor"] == "staging"


# ---- soak time ---------------------------------------------------------------------------------


def soaked(minutes: int, seconds: int = 0, **fact: object) -> GateContext:
    """A production context whose staging run has been healthy for that long."""
    since = NOW - timedelta(minutes=minutes, seconds=seconds)
    history = (make_fact("dev"), make_fact("staging", **{"healthy_since": since, **fact}))
    return make_context(history=history)


def test_soak_at_14_59_is_refused_with_retry_after() -> None:
    r = result(soaked(14, 59), "soak_time")
    assert not r.passed
    assert r.reason == "staging healthy for 14 of 15 min, retry after 10:30:01 UTC"
    assert r.details["retry_after"] == (NOW + timedelta(seconds=1)).isoformat()
    assert r.details["elapsed_seconds"] == 899
    assert r.details["required_seconds"] == 900


def test_soak_at_15_00_is_accepted() -> None:
    r = result(soaked(15), "soak_time")
    assert r.passed
    assert r.details["elapsed_seconds"] == 900


def test_soak_reason_reads_like_the_design() -> None:
    r = result(soaked(4), "soak_time")
    assert r.reason == "staging healthy for 4 of 15 min, retry after 10:41 UTC"


def test_soak_is_configurable_per_environment() -> None:
    ctx = soaked(20)
    longer = GateContext(**{**ctx.__dict__, "soak": {Environment.PRODUCTION: timedelta(hours=1)}})
    r = result(longer, "soak_time")
    assert not r.passed
    assert "20 of 60 min" in r.reason


def test_staging_soak_applies_to_dev_when_configured() -> None:
    req = make_deployment_request(environment="staging", release_tag=None)
    dec = make_decision("CONSULT", environment="staging")
    ctx = make_context(request=req, decision=dec, soak={Environment.STAGING: timedelta(hours=1)})
    r = result(ctx, "soak_time")
    assert not r.passed
    assert r.reason.startswith("dev healthy for 30 of 60 min")


def test_no_healthy_run_means_no_soak() -> None:
    r = result(soaked(30, healthy_since=None), "soak_time")
    assert not r.passed
    assert "no healthy run" in r.reason


def test_a_run_that_stopped_before_the_soak_gives_no_retry_time() -> None:
    r = result(soaked(30, healthy_until=NOW - timedelta(minutes=25)), "soak_time")
    assert not r.passed
    assert "stopped being healthy" in r.reason
    assert "retry_after" not in r.details


def test_a_finished_run_that_had_soaked_long_enough_counts() -> None:
    assert result(soaked(30, healthy_until=NOW - timedelta(minutes=10)), "soak_time").passed


def test_retry_after_names_the_date_when_it_is_another_day() -> None:
    ctx = soaked(0)
    day = GateContext(**{**ctx.__dict__, "soak": {Environment.PRODUCTION: timedelta(days=1)}})
    assert result(day, "soak_time").reason.endswith("retry after 2026-03-05 10:30 UTC")


def test_production_refused_before_soak_and_accepted_after() -> None:
    before = evaluate(soaked(10))
    assert before.outcome == "refused"
    assert [r.name for r in before.failures()] == ["soak_time"]
    assert evaluate(soaked(15)).outcome == "execute"


# ---- release tag -------------------------------------------------------------------------------


def test_production_needs_a_v_tag() -> None:
    assert result(make_context(), "release_tag").passed
    for tag in (None, "main-a1b2c3d", "1.2.3", "v1.2"):
        req = make_deployment_request().model_copy(update={"release_tag": tag})
        r = result(make_context(request=req), "release_tag")
        assert not r.passed, tag
        assert "v* release tag" in r.reason


def test_staging_needs_no_tag() -> None:
    req = make_deployment_request(environment="staging", release_tag=None)
    assert result(make_context(request=req), "release_tag").passed


# ---- security audit ----------------------------------------------------------------------------


def test_dev_needs_no_audit() -> None:
    req = make_deployment_request(environment="dev", security_audit=None, release_tag=None)
    assert result(make_context(request=req), "security_audit").passed


def test_staging_without_an_audit_is_refused() -> None:
    req = make_deployment_request(environment="staging", release_tag=None)
    req = req.model_copy(update={"security_audit": None})
    r = result(make_context(request=req), "security_audit")
    assert not r.passed
    assert "staging needs a security audit" in r.reason


def test_staging_with_a_failed_audit_is_refused() -> None:
    audit = make_audit(high_findings=2, passed=False)
    req = make_deployment_request(environment="staging", release_tag=None, security_audit=audit)
    r = result(make_context(request=req), "security_audit")
    assert not r.passed
    assert r.details["problems"] == ["audit failed: 2 high findings"]


def test_an_audit_the_plane_cannot_vouch_for_is_refused_with_the_gate_named() -> None:
    untrusted = AuditTrust(False, "the security audit is not signed by a CI key the plane trusts")
    report = evaluate(make_context(audit_trust=untrusted))
    assert [r.name for r in report.failures()] == ["audit_trusted"]
    assert "not signed" in report.failures()[0].reason
    nobody = evaluate(make_context(audit_trust=None))
    assert [r.name for r in nobody.failures()] == ["audit_trusted"]


def test_dev_needs_no_vouched_audit() -> None:
    req = make_deployment_request(environment="dev", security_audit=None, release_tag=None)
    assert result(make_context(request=req, audit_trust=None), "audit_trusted").passed


def test_the_security_gate_judges_the_trusted_audit_not_the_requests_copy() -> None:
    """A client edits a failed audit to passed: the gate reads the registry's own copy."""
    failed = make_audit(secret_findings=1, passed=False)
    forged = make_deployment_request()  # carries a passed audit
    trust = AuditTrust(True, "the release registry's own signed audit", failed)
    r = result(make_context(request=forged, audit_trust=trust), "security_audit")
    assert not r.passed
    assert r.details["problems"] == ["audit failed: 1 secret findings"]


def test_an_audit_of_another_release_or_service_is_refused() -> None:
    audit = make_audit(release=OTHER_RELEASE, service="nlpinsight")
    req = make_deployment_request().model_copy(update={"security_audit": audit})
    r = result(make_context(request=req), "security_audit")
    assert not r.passed
    assert len(r.details["problems"]) == 2
    assert "audit is for bankchurn@sha256:cdcdcdcdcdcd" in r.reason


# ---- freeze windows ----------------------------------------------------------------------------


def test_a_freeze_on_production_refuses_with_retry_after() -> None:
    r = result(make_context(freeze_windows=(make_freeze(),)), "freeze_window")
    assert not r.passed
    assert r.reason == "production is frozen until 11:30 UTC: quarter-end freeze"
    assert r.details["retry_after"] == (NOW + timedelta(hours=1)).isoformat()


def test_a_freeze_elsewhere_or_at_another_time_does_not_apply() -> None:
    windows = (
        make_freeze(environments=frozenset({Environment.STAGING})),
        make_freeze(start=NOW + timedelta(minutes=1)),
        make_freeze(end=NOW),  # the end is exclusive
    )
    assert result(make_context(freeze_windows=windows), "freeze_window").passed


def test_a_freeze_without_environments_covers_all_and_starts_inclusive() -> None:
    window = make_freeze(start=NOW, environments=frozenset())
    assert not result(make_context(freeze_windows=(window,)), "freeze_window").passed


def test_a_reversed_or_naive_freeze_window_is_rejected() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        make_freeze(end=NOW - timedelta(hours=2))
    with pytest.raises(ValueError, match="timezone-aware"):
        make_freeze(start=NOW.replace(tzinfo=None))


# ---- policy decision ---------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "approvals"), [("CONSULT", 1), ("STOP", 2)])
def test_consult_and_stop_wait_for_approvals_without_failing(mode: str, approvals: int) -> None:
    report = evaluate(make_context(decision=make_decision(mode)))
    assert report.allowed
    assert (report.outcome, report.mode, report.required_approvals) == (
        "approval_required",
        mode,
        approvals,
    )


def test_a_consult_decision_with_zero_approvals_still_needs_one() -> None:
    report = evaluate(make_context(decision=make_decision("CONSULT", required_approvals=0)))
    assert (report.outcome, report.required_approvals) == ("approval_required", 1)


def test_a_missing_decision_refuses() -> None:
    report = evaluate(make_context(decision=None))
    assert report.outcome == "refused"
    assert "policy_decision" in [r.name for r in report.failures()]


@pytest.mark.parametrize(
    "override",
    [{"environment": Environment.STAGING}, {"service": "nlpinsight"}, {"operation": "rollback"}],
    ids=["environment", "service", "operation"],
)
def test_a_decision_about_something_else_refuses(override: dict[str, Any]) -> None:
    r = result(make_context(decision=make_decision(**override)), "policy_decision")
    assert not r.passed
    assert "dec-1 is for" in r.reason


# ---- the combinator ----------------------------------------------------------------------------


def test_a_refused_request_lists_every_failed_gate() -> None:
    failed_audit = make_audit(critical_findings=1, passed=False)
    update = {"release_tag": None, "security_audit": failed_audit}
    req = make_deployment_request().model_copy(update=update)
    ctx = make_context(
        request=req, history=(), freeze_windows=(make_freeze(),), decision=make_decision("STOP")
    )
    report = evaluate(ctx)
    assert report.outcome == "refused"
    assert not report.allowed
    assert report.required_approvals == 0
    assert [r.name for r in report.failures()] == [
        "invariants",
        "promotion_chain",
        "soak_time",
        "release_tag",
        "security_audit",
        "freeze_window",
    ]
    assert len(report.reasons()) == 6
    assert report.results[-1].passed  # the STOP decision is not itself a failure


def test_an_empty_gate_list_denies() -> None:
    report = evaluate(make_context(), gates=())
    assert not report.allowed
    assert report.outcome == "refused"
    assert "no_gates" in [r.name for r in report.failures()]


def test_gates_without_a_policy_decision_deny() -> None:
    report = evaluate(make_context(), gates=(gates.release_tag,))
    assert report.outcome == "refused"
    assert [r.name for r in report.failures()] == ["no_decision"]


def test_a_gate_that_raises_refuses() -> None:
    def broken(ctx: GateContext) -> gates.Verdict:
        """Prevents nothing: it always raises."""
        raise RuntimeError("boom")

    report = evaluate(make_context(), gates=(*GATES, broken))
    assert report.outcome == "refused"
    failed = report.failures()
    assert [r.name for r in failed] == ["broken"]
    assert "boom" in failed[0].reason


def test_the_report_serialises_for_the_api() -> None:
    data = evaluate(soaked(4)).model_dump(mode="json")
    soak = next(r for r in data["results"] if r["name"] == "soak_time")
    assert soak["details"]["retry_after"] == "2026-03-04T10:41:00+00:00"


def test_context_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_context(now=NOW.replace(tzinfo=None))


def test_gates_module_is_pure() -> None:
    code = (
        "import sys, controlplane.deploy.gates\n"
        "bad = {'fastapi', 'sqlalchemy', 'sqlmodel', 'httpx', 'typer'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
