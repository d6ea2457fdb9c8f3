"""The client's wait(): it follows what the plane runs off the request, and only that."""

from __future__ import annotations

import pytest

from controlplane.client import kind_of, outcome
from controlplane.errors import InvalidRequest
from tests.agents.conftest import People, as_
from tests.delivery.conftest import DIGEST_A, DIGEST_B, deploy_body


def test_wait_follows_a_deployment_to_its_end_and_reports_each_state(
    plane_url: str, people: People
) -> None:
    seen: list[str] = []
    with as_(plane_url, people["release-agent"]) as agent:
        body = deploy_body("dev")
        answer = agent.deploy(body.pop("service"), body.pop("environment"), body.pop("release"))
        assert kind_of(answer) == "deployment"
        done = agent.wait(answer, timeout_s=30, poll_s=0.05,
                          on_update=lambda s: seen.append(s["status"]))  # fmt: skip
    assert done["status"] == "succeeded" and outcome("deployment", done) == "succeeded"
    assert seen[-1] == "succeeded"


def test_wait_stops_following_when_a_step_waits_for_humans(plane_url: str, people: People) -> None:
    with as_(plane_url, people["olga"]) as olga:
        for digest in (DIGEST_A, DIGEST_B):  # two releases in dev: one to roll back to
            body = deploy_body("dev", digest)
            dep = olga.deploy(body.pop("service"), body.pop("environment"), body.pop("release"))
            assert olga.wait(dep, timeout_s=30)["status"] == "succeeded"
        run = olga.start_run("rollback", {"service": "bankchurn", "environment": "dev"})
        paused = olga.wait(run["id"], kind="run", timeout_s=120, poll_s=0.1)
    assert paused["status"] == "paused" and outcome("run", paused) == "pending_approval"
    waiting = [s for s in paused["steps"] if s["status"] == "pending_approval"]
    assert [s["step_id"] for s in waiting] == ["execute"] and waiting[0]["mode"] == "STOP"


def test_wait_needs_a_kind_with_an_id_and_refuses_what_is_already_final(
    plane_url: str, people: People
) -> None:
    with as_(plane_url, people["olga"]) as olga:
        with pytest.raises(InvalidRequest) as no_kind:
            olga.wait("0" * 32)
        assert no_kind.value.details["field"] == "kind"
        raised = olga.set_signal("off_hours", ttl="5m", reason="testing the wait")
        with pytest.raises(InvalidRequest) as final:
            olga.wait(raised)  # an override is done when answered: nothing to follow
    assert "already final" in final.value.message


def test_metrics_are_the_prometheus_text(plane_url: str, people: People) -> None:
    with as_(plane_url, people["olga"]) as olga:
        text = olga.metrics()
    assert "# HELP" in text and "# TYPE" in text
