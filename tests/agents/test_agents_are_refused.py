"""No agent can approve, lower a signal, or reach a workload around the plane; each attempt is
refused and recorded under the agent's own name."""

from __future__ import annotations

import pytest

from controlplane.errors import ControlPlaneError, Forbidden
from tests.agents.conftest import AGENTS, People, as_, refused_votes
from tests.delivery.conftest import deploy_body


@pytest.fixture
def waiting(plane_url: str, people: People) -> str:
    """A real approval request: olga's staging deployment (CONSULT) waits for one human."""
    with as_(plane_url, people["olga"]) as olga:
        body = deploy_body("dev")
        dev = olga.wait(olga.deploy(body.pop("service"), body.pop("environment"),
                                    body.pop("release"), **body), timeout_s=30)  # fmt: skip
        assert dev["status"] == "succeeded", dev
        body = deploy_body("staging")
        staging = olga.deploy(body.pop("service"), body.pop("environment"), body.pop("release"),
                              **body)  # fmt: skip
    assert staging["status"] == "pending_approval"
    return str(staging["approval_id"])


@pytest.mark.parametrize("agent", AGENTS)
def test_each_agent_is_refused_when_it_tries_to_approve(
    plane_url: str, people: People, waiting: str, agent: str
) -> None:
    with as_(plane_url, people[agent]) as client:
        with pytest.raises(Forbidden) as refused:
            client.approve(waiting, "looks fine to me")
        assert "agent" in refused.value.message.lower()
        assert client.get_approval(waiting)["approvals"] == 0
        records = refused_votes(client, agent)
    assert records and records[0]["agent"] == agent and records[0]["result"] == "refused"


@pytest.mark.parametrize("agent", AGENTS)
def test_each_agent_is_refused_when_it_tries_to_lower_a_signal(
    plane_url: str, people: People, agent: str
) -> None:
    with as_(plane_url, people[agent]) as client:
        with pytest.raises(ControlPlaneError) as refused:
            client.set_signal("incident_active", ttl="30m", reason="just ship it",
                              state="inactive", service="bankchurn",
                              environment="production")  # fmt: skip
        assert refused.value.status in (403, 409)
        page = client.audit(actor=agent, result="refused", order="desc", limit=5)
    assert any("signal" in str(r["operation"]) for r in page["data"]), page["data"]


def test_there_is_no_route_to_a_workload_around_the_plane(plane_url: str, people: People) -> None:
    """The API has no path that touches a workload directly (an unrouted path is a 404)."""
    with as_(plane_url, people["incident-agent"]) as client:
        for path in ("/v1/services/bankchurn/production/restart", "/v1/workloads/bankchurn"):
            with pytest.raises(ControlPlaneError) as refused:
                client._request("POST", path, json={})
            assert refused.value.status in (404, 405), path
