"""The GitHub workflows, parsed with PyYAML: CI runs what .ci/run runs; deploy builds, signs,
makes an SBOM, scans and then only asks the plane (agents.release_agent) and waits; drift runs
on a schedule through the drift agent."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.infra.conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"
CLUSTER_ACCESS = re.compile(
    r"\bkubectl\b|\bhelm\b|get-credentials|update-kubeconfig|KUBECONFIG|terraform\s+apply"
)


def load(name: str) -> dict[str, Any]:
    """A workflow as a dict (PyYAML reads the `on:` key as True)."""
    doc: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def steps(doc: dict[str, Any], job: str | None = None) -> list[dict[str, Any]]:
    """Every step of one job, or of all jobs."""
    jobs = [doc["jobs"][job]] if job else list(doc["jobs"].values())
    return [step for j in jobs for step in j.get("steps", [])]


def runs(doc: dict[str, Any], job: str | None = None) -> str:
    """All `run:` scripts of one job (or all), joined."""
    return "\n".join(s.get("run", "") for s in steps(doc, job))


def uses(doc: dict[str, Any], job: str | None = None) -> list[str]:
    """The actions a job (or the workflow) uses."""
    return [s["uses"] for s in steps(doc, job) if "uses" in s]


ALL = sorted(p.name for p in WORKFLOWS.glob("*.yml"))


@pytest.mark.parametrize("name", ALL)
def test_every_workflow_parses_with_least_privilege(name: str) -> None:
    """Valid YAML with triggers and jobs; read-only token by default; actions pinned to a
    release, never a moving branch."""
    doc = load(name)
    assert doc["on"] and doc["jobs"]
    assert doc["permissions"] == {"contents": "read"}
    for action in uses(doc):
        if not action.startswith("./"):
            assert re.search(r"@(v\d[\w.]*|\d+\.\d+\.\d+|[0-9a-f]{40})$", action), action


def test_ci_runs_what_ci_run_runs() -> None:
    """Every make target .ci/run calls is a CI job: lint, the tests (with Chromium for the
    browser tests), PostgreSQL and the contract fuzzing."""
    script = (REPO / ".ci" / "run").read_text()
    targets = set(re.findall(r"^\s*(?:pytest_ok\s+)?make\s+([\w-]+)", script, re.M))
    assert {"lint", "test", "contract", "test-pg"} <= targets
    ci = load("ci.yml")
    for target in targets:
        assert re.search(rf"\bmake {re.escape(target)}\b", runs(ci)), target
    assert "chromium" in runs(ci, "test") and "postgresql" in runs(ci, "postgres")
    assert "pull_request" in ci["on"] and ci["on"]["push"]["branches"] == ["main"]


def test_deploy_builds_signs_sboms_and_scans_before_asking_the_plane() -> None:
    """Build job: push by digest, cosign sign, CycloneDX SBOM, attest, vulnerability and secret
    scans, signature verification; the deploy jobs come after it and only call the agent."""
    deploy = load("deploy.yml")
    build = deploy["jobs"]["build"]
    actions = " ".join(uses(deploy, "build"))
    script = runs(deploy, "build")
    assert "docker/build-push-action" in actions and "anchore/sbom-action" in actions
    assert "aquasecurity/trivy-action" in actions and "gitleaks/gitleaks-action" in actions
    assert "cosign sign" in script and "cosign attest" in script and "cosign verify" in script
    assert build["permissions"]["id-token"] == "write"  # keyless signing, OIDC push, no keys
    for env in ("dev", "staging", "production"):
        job = deploy["jobs"][f"deploy-{env}"]
        assert "build" in job["needs"]
        assert job["uses"] == "./.github/workflows/request-deploy.yml"
        assert job["with"]["environment"] == env
    assert "refs/tags/v" in deploy["jobs"]["deploy-production"]["if"]
    assert "deploy-staging" in deploy["jobs"]["deploy-production"]["needs"]


def test_the_deploy_request_goes_through_release_agent_and_waits() -> None:
    """The only thing a deploy job runs against an environment is `python -m
    agents.release_agent ... --wait`, with the plane's URL and token."""
    request = load("request-deploy.yml")
    script = runs(request)
    calls = re.findall(r"python -m agents\.release_agent(.*?)(?:\n\s*\n|$)", script, re.S)
    assert len(calls) == 1
    for flag in ("--service", "--environment", "--image", "--sbom", "--wait", "--timeout"):
        assert flag in calls[0], flag
    env = steps(request)[-1]["env"]
    assert {"CONTROLPLANE_URL", "CONTROLPLANE_TOKEN"} <= set(env)


@pytest.mark.parametrize("name", ["deploy.yml", "request-deploy.yml", "drift.yml"])
def test_no_cluster_credentials_in_delivery_workflows(name: str) -> None:
    """No kubectl, helm, kubeconfig or cluster credentials: CI cannot reach a cluster at all."""
    text = (WORKFLOWS / name).read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert not CLUSTER_ACCESS.search(code)


def test_drift_runs_on_a_schedule_through_the_drift_agent() -> None:
    """A cron schedule (and manual dispatch) running `python -m agents.drift_agent --once`."""
    drift = load("drift.yml")
    assert drift["on"]["schedule"][0]["cron"].count(" ") == 4
    assert "workflow_dispatch" in drift["on"]
    assert re.search(r"python -m agents\.drift_agent --once\b", runs(drift))
