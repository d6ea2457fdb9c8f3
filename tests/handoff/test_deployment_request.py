"""DeploymentRequest: environments, tags, commits, and what the client may not decide."""

from __future__ import annotations

from datetime import datetime

import factories as f
import pytest
from pydantic import ValidationError

from controlplane.handoff import DeploymentRequest, Release
from controlplane.policy.models import Environment


@pytest.mark.parametrize(
    ("given", "expected"),
    [("local", "dev"), ("dev", "dev"), ("stage", "staging"), ("prod", "production")],
)
def test_environment_aliases_map_onto_the_three(given: str, expected: str) -> None:
    payload = f.deployment(environment=given)
    if expected == "dev":
        payload |= {"release_tag": None}
    assert DeploymentRequest.model_validate(payload).environment is Environment(expected)


def test_an_unknown_environment_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown environment"):
        DeploymentRequest.model_validate(f.deployment(environment="qa"))


def test_dev_may_deploy_an_unpinned_release_without_an_audit() -> None:
    payload = f.deployment(
        environment="dev", release="bankchurn:latest", release_tag=None, security_audit=None
    )
    req = DeploymentRequest.model_validate(payload)
    assert req.release == Release("bankchurn:latest")


@pytest.mark.parametrize("tag", ["v1.2.3", "v10.0.0-rc.1", "v1.2.3+build.5"])
def test_production_accepts_semver_v_tags(tag: str) -> None:
    assert DeploymentRequest.model_validate(f.deployment(release_tag=tag)).release_tag == tag


def test_only_the_required_fields_are_required() -> None:
    req = DeploymentRequest.model_validate(
        {"service": "bankchurn", "environment": "dev", "release": "bankchurn"}
    )
    assert (req.security_audit, req.reason, req.changes, req.commit_time) == (None, None, (), None)


def test_commit_shas_are_normalised_to_lowercase() -> None:
    req = DeploymentRequest.model_validate(f.deployment(commit_sha="A1B2C3D", changes=["ABCDEF0"]))
    assert (req.commit_sha, req.changes) == ("a1b2c3d", ("abcdef0",))


def test_commit_time_must_be_timezone_aware() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        DeploymentRequest.model_validate(f.deployment(commit_time="2026-03-04T10:00:00"))
    req = DeploymentRequest.model_validate(f.deployment())
    assert isinstance(req.commit_time, datetime)


def test_the_client_cannot_choose_the_mode() -> None:
    with pytest.raises(ValidationError) as info:
        DeploymentRequest.model_validate(f.deployment(required_mode="AUTO"))
    assert "invariant mode_decided_by_plane" in str(info.value)


def test_the_request_dumps_releases_as_strings() -> None:
    data = DeploymentRequest.model_validate(f.deployment()).model_dump(mode="json")
    assert data["release"] == f.RELEASE
    assert data["security_audit"]["release"] == f.RELEASE


def test_violations_recheck_a_request_built_without_validation() -> None:
    good = DeploymentRequest.model_validate(f.deployment())
    assert good.violations() == []
    bad = good.model_copy(update={"release_tag": None})
    assert [v.invariant for v in bad.violations()] == ["production_requires_release_tag"]
    assert str(bad.violations()[0]).startswith("invariant production_requires_release_tag: ")
