"""Journeys 2 and 3 at the command line: an agent ships with `opsctl deploy`, humans approve."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import Result

from controlplane.adapters.workload.fake import FakeWorkloadBackend
from controlplane.client import ControlPlaneClient
from controlplane.clock import ManualClock
from controlplane.config import Settings
from tests.delivery.conftest import DIGEST_A, DIGEST_B, audit_for, release

from .conftest import REPO, Opsctl

REF = release(DIGEST_A)


@pytest.fixture
def tokens(plane_url: str, admin_token: str) -> dict[str, str]:
    """An agent that ships, two human approvers, and a CI bot that holds the approver role."""
    people = {
        "agent": ("claude-code", "agent", ["operator", "viewer"]),
        "alice": ("alice", "human", ["approver", "operator", "viewer"]),
        "bob": ("bob", "human", ["approver", "viewer"]),
        "ci": ("ci-bot", "ci", ["operator", "approver", "viewer"]),
    }
    with ControlPlaneClient(plane_url, admin_token) as admin:
        return {
            who: admin.create_token(name, kind, roles)["token"]
            for who, (name, kind, roles) in people.items()
        }


@pytest.fixture
def audit_file(tmp_path: Path) -> Path:
    """A passed SecurityAuditResult of REF, as CI would leave it."""
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(audit_for(REF)), encoding="utf-8")
    return path


def _deploy(opsctl: Opsctl, token: str, env: str, *extra: str, ref: str = REF) -> Result:
    return opsctl("deploy", "bankchurn", "--env", env, "--artifact", ref, *extra, token=token)


def _to_staging(opsctl: Opsctl, tokens: dict[str, str], audit_file: Path) -> str:
    """Ship REF through dev and ask for staging; return the approval id."""
    assert _deploy(opsctl, tokens["agent"], "dev").exit_code == 0
    asked = _deploy(opsctl, tokens["agent"], "staging", "--audit", str(audit_file), "--json")
    assert asked.exit_code == 3, asked.output  # waits for approvals
    dep = json.loads(asked.stdout)
    assert dep["status"] == "pending_approval"
    return str(dep["approval_id"])


def test_dev_deploy_is_auto_and_says_healthy(
    opsctl: Opsctl, tokens: dict[str, str], workloads: FakeWorkloadBackend
) -> None:
    result = _deploy(opsctl, tokens["agent"], "dev", "--commit", "a1b2c3d")
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"AUTO  {REF} -> bankchurn/dev: ran, healthy")
    assert "live since 2026-11-25 10:00 UTC" in first
    assert workloads.running["bankchurn/dev"] == REF


def test_staging_waits_and_another_human_approves(
    opsctl: Opsctl, tokens: dict[str, str], audit_file: Path, workloads: FakeWorkloadBackend
) -> None:
    assert _deploy(opsctl, tokens["agent"], "dev").exit_code == 0
    asked = _deploy(opsctl, tokens["agent"], "staging", "--audit", str(audit_file))
    assert asked.exit_code == 3, asked.output
    assert ": pending approval 0 of 1" in asked.stdout.splitlines()[0]
    approval_id = asked.stdout.split("approval id")[1].split()[0]
    assert "why          base mode for deploy in staging is CONSULT" in asked.stdout
    assert f"opsctl approve {approval_id}" in asked.stdout

    queue = opsctl("approvals", "list", token=tokens["bob"])
    assert queue.exit_code == 0, queue.output
    assert queue.stdout.startswith(approval_id)
    assert "approvals 0 of 1" in queue.stdout
    assert "asked by   claude-code (agent)" in queue.stdout
    assert f"change     deploy {REF} to bankchurn/staging" in queue.stdout
    assert "gates" in queue.stdout and "expires 2026-11-26 10:00 UTC" in queue.stdout

    approved = opsctl("approve", approval_id, "--reason", "looks good", token=tokens["bob"])
    assert approved.exit_code == 0, approved.output
    assert f"approved {approval_id} (1 of 1): approved" in approved.stdout
    assert "bankchurn/staging: ran, healthy" in approved.stdout
    assert workloads.running["bankchurn/staging"] == REF

    shown = json.loads(opsctl("approvals", "show", approval_id, "--json").stdout)
    assert shown["votes"][0]["approver"] == "bob" and shown["votes"][0]["comment"] == "looks good"
    assert "no pending approval requests" in opsctl("approvals", "list").stdout


def test_reject_needs_a_reason_and_ends_the_request(
    opsctl: Opsctl, tokens: dict[str, str], audit_file: Path, workloads: FakeWorkloadBackend
) -> None:
    approval_id = _to_staging(opsctl, tokens, audit_file)
    missing = opsctl("reject", approval_id, token=tokens["bob"])
    assert missing.exit_code == 2 and "--reason" in missing.output
    empty = opsctl("approvals", "reject", approval_id, "--comment", " ", token=tokens["bob"])
    assert empty.exit_code == 1 and "a rejection needs a comment" in empty.stderr  # old name

    rejected = opsctl(
        "reject", approval_id[:12], "--reason", "not during the demo", token=tokens["bob"]
    )
    assert rejected.exit_code == 0, rejected.output
    assert rejected.stdout.startswith(f"rejected {approval_id}: deploy {REF}")
    listed = json.loads(opsctl("deployments", "--env", "staging", "--json").stdout)
    assert [d["status"] for d in listed] == ["rejected"]
    assert "bankchurn/staging" not in workloads.running


def test_agents_ci_and_the_requester_cannot_approve(
    opsctl: Opsctl, tokens: dict[str, str], audit_file: Path
) -> None:
    approval_id = _to_staging(opsctl, tokens, audit_file)
    agent = opsctl("approve", approval_id, token=tokens["agent"])
    assert agent.exit_code == 1 and agent.stdout == ""
    assert "error (forbidden)" in agent.stderr and "approver" in agent.stderr
    ci = opsctl("approvals", "approve", approval_id, token=tokens["ci"])
    assert ci.exit_code == 1
    assert "ci-bot is a ci identity; only humans approve" in ci.stderr

    assert _deploy(opsctl, tokens["alice"], "dev", ref=release(DIGEST_B)).exit_code == 0
    audit = audit_file.with_name("audit-b.json")
    audit.write_text(json.dumps(audit_for(release(DIGEST_B))), encoding="utf-8")
    mine = _deploy(
        opsctl, tokens["alice"], "staging", "--audit", str(audit), "--json", ref=release(DIGEST_B)
    )
    own = opsctl("approve", json.loads(mine.stdout)["approval_id"], token=tokens["alice"])
    assert own.exit_code == 1 and "no self-approval" in own.stderr


def test_production_is_refused_before_the_soak_time_with_retry_after(
    opsctl: Opsctl, tokens: dict[str, str], audit_file: Path, clock: ManualClock
) -> None:
    approval_id = _to_staging(opsctl, tokens, audit_file)
    assert opsctl("approve", approval_id, token=tokens["bob"]).exit_code == 0
    clock.advance(timedelta(minutes=4))
    prod = ("--tag", "v1.0.0", "--audit", str(audit_file))

    refused = _deploy(opsctl, tokens["agent"], "production", *prod)
    assert refused.exit_code == 1 and refused.stdout == ""
    assert refused.stderr.startswith("refused: no deployment was made")
    assert "staging healthy for 4 of 15 min" in refused.stderr
    assert "retry after 2026-11-25 10:15 UTC" in refused.stderr

    as_json = _deploy(opsctl, tokens["agent"], "production", *prod, "--json")
    assert as_json.exit_code == 1
    error = json.loads(as_json.stdout)["error"]
    assert error["code"] == "gates_refused" and error["details"]["retry_after"]
    assert any(not g["passed"] for g in error["details"]["failed_gates"])

    clock.advance(timedelta(minutes=11))
    waits = _deploy(opsctl, tokens["agent"], "production", *prod)
    assert waits.exit_code == 3, waits.output
    assert waits.stdout.startswith(f"STOP  {REF} -> bankchurn/production: pending approval 0 of 2")


def test_services_lists_the_live_release(opsctl: Opsctl, tokens: dict[str, str]) -> None:
    assert _deploy(opsctl, tokens["agent"], "dev").exit_code == 0
    shown = opsctl("services")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines()[0].split() == [
        "SERVICE",
        "ENV",
        "RELEASE",
        "STATUS",
        "HEALTHY",
        "SINCE",
        "URL",
    ]
    row = next(line for line in shown.stdout.splitlines() if line.startswith("bankchurn    dev"))
    assert f"bankchurn@sha256:{DIGEST_A[:12]}" in row and "yes" in row
    assert "2026-11-25 10:00 UTC" in row and "fake://bankchurn/dev" in row
    rows = json.loads(opsctl("services", "--json").stdout)
    live = next(r for r in rows if (r["service"], r["environment"]) == ("bankchurn", "dev"))
    assert live["release"] == REF and live["healthy"] is True


def test_deployments_list_and_show_the_id_as_printed(
    opsctl: Opsctl, tokens: dict[str, str]
) -> None:
    dev = json.loads(_deploy(opsctl, tokens["agent"], "dev", "--json").stdout)
    listed = opsctl("deployments", "list", "--service", "bankchurn")
    assert listed.exit_code == 0, listed.output
    assert opsctl("deployments", "--service", "bankchurn").stdout == listed.stdout  # bare = list
    printed = listed.stdout.splitlines()[1].split()[0]
    assert printed == dev["id"][:12] and "succeeded" in listed.stdout
    assert json.loads(opsctl("deployments", "--status", "failed", "--json").stdout) == []
    shown = opsctl("deployments", "show", printed)
    assert shown.exit_code == 0, shown.output
    assert "pass  promotion_chain: dev is the first environment" in shown.stdout
    assert "requested    by claude-code" in shown.stdout
    assert json.loads(opsctl("deployments", "show", dev["id"], "--json").stdout)["id"] == dev["id"]
    unknown = opsctl("deployments", "show", "zzzz")
    assert unknown.exit_code == 1
    assert "error (not_found): no deployment starts with 'zzzz'" in unknown.stderr


def test_deploy_and_decide_read_prod_as_production(opsctl: Opsctl, tokens: dict[str, str]) -> None:
    decision = json.loads(opsctl("decide", "deploy", "--env", "prod", "--json").stdout)
    assert decision["environment"] == "production"
    asked = _deploy(opsctl, tokens["agent"], "prod", "--json")
    assert json.loads(asked.stdout)["error"]["details"]  # the plane judged a production request
    assert "production" in asked.stdout and "prod'" not in asked.stdout
    assert opsctl("deployments", "--env", "prod", "--json").exit_code == 0


def test_a_release_that_never_gets_ready_exits_1(
    opsctl: Opsctl, tokens: dict[str, str], workloads: FakeWorkloadBackend
) -> None:
    assert _deploy(opsctl, tokens["agent"], "dev").exit_code == 0
    workloads.never_ready.add(release(DIGEST_B))
    failed = _deploy(opsctl, tokens["agent"], "dev", ref=release(DIGEST_B))
    assert failed.exit_code == 1
    assert ": failed: rollout failed, previous release kept serving" in failed.stdout
    assert f"still serving  {REF}" in failed.stdout


def test_invalid_request_names_the_invariant(
    opsctl: Opsctl, tokens: dict[str, str], audit_file: Path
) -> None:
    result = _deploy(opsctl, tokens["agent"], "production", "--audit", str(audit_file))
    assert result.exit_code == 1
    assert "production_requires_release_tag" in result.stderr


def test_staging_without_a_known_audit_says_so(opsctl: Opsctl, tokens: dict[str, str]) -> None:
    assert _deploy(opsctl, tokens["agent"], "dev").exit_code == 0
    result = _deploy(opsctl, tokens["agent"], "staging")
    assert result.exit_code == 1
    assert f"the plane holds no release bundle {REF}" in result.stderr


def test_unreadable_audit_file_is_a_clear_error(
    opsctl: Opsctl, tokens: dict[str, str], tmp_path: Path
) -> None:
    result = _deploy(opsctl, tokens["agent"], "staging", "--audit", str(tmp_path / "nope.json"))
    assert result.exit_code == 1 and "cannot read the security audit" in result.stderr


@pytest.mark.slow
def test_staging_deploy_attaches_the_release_bundles_own_audit(
    opsctl: Opsctl, tokens: dict[str, str], settings: Settings, trained: Path
) -> None:
    from controlplane.release.registry import ReleaseRegistry

    ref = ReleaseRegistry(settings.state_dir, repo_root=REPO).build("bankchurn", trained).ref
    assert _deploy(opsctl, tokens["agent"], "dev", ref=ref).exit_code == 0
    asked = _deploy(opsctl, tokens["agent"], "staging", "--json", ref=ref)
    assert asked.exit_code == 3, asked.output
    assert json.loads(asked.stdout)["status"] == "pending_approval"
    listed = json.loads(opsctl("releases", "--json").stdout)
    assert [r["ref"] for r in listed["data"]] == [ref]


def test_client_reads_schemas_and_filters_deployments(
    plane_url: str, tokens: dict[str, str]
) -> None:
    with ControlPlaneClient(plane_url, tokens["agent"]) as client:
        names = {s["name"] for s in client.schemas()}
        assert {"DeploymentRequest", "SecurityAuditResult"} <= names
        schema = client.schema("DeploymentRequest")
        assert "release" in schema["properties"]
        dep = client.deploy("bankchurn", "dev", REF, commit_sha="a1b2c3d", reason="nightly")
        assert dep["status"] == "approved"  # answered before the rollout; the worker runs it
        dep = client.wait_for_deployment(dep["id"], timeout_s=30)
        assert dep["status"] == "succeeded"
        assert client.deployments(environment="dev")[0]["id"] == dep["id"]
        assert client.deployments(environment="staging") == []
        assert client.get_deployment(dep["id"])["commit_sha"] == "a1b2c3d"
