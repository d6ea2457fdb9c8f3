"""JSON Schemas are served for every hand-off; an invalid hand-off body is a 422 naming the rule."""

from __future__ import annotations

import factories as f
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from controlplane.errors import ControlPlaneError
from controlplane.handoff import HANDOFF_MODELS, DeploymentRequest
from controlplane.handoff.routes import router


@pytest.fixture
def client() -> TestClient:
    """A bare app with only the schema router and the plane's error envelope."""
    app = FastAPI()
    app.include_router(router)

    @app.exception_handler(ControlPlaneError)
    async def _ours(_: Request, exc: ControlPlaneError) -> JSONResponse:
        return JSONResponse(exc.to_json(), status_code=exc.status)

    @app.post("/echo")
    def echo(body: DeploymentRequest) -> DeploymentRequest:
        return body

    return TestClient(app)


def test_the_list_names_every_handoff(client: TestClient) -> None:
    body = client.get("/v1/schemas").json()
    assert body["count"] == 8
    assert [d["name"] for d in body["data"]] == list(HANDOFF_MODELS)
    assert all(d["url"] == f"/v1/schemas/{d['name']}" and d["description"] for d in body["data"])


@pytest.mark.parametrize("name", list(HANDOFF_MODELS))
def test_each_schema_is_served(client: TestClient, name: str) -> None:
    res = client.get(f"/v1/schemas/{name}")
    assert res.status_code == 200
    assert res.json() == HANDOFF_MODELS[name].model_json_schema()
    assert res.json()["additionalProperties"] is False


def test_names_are_forgiving_about_case_and_separators(client: TestClient) -> None:
    res = client.get("/v1/schemas/deployment-request")
    assert res.json()["title"] == "DeploymentRequest"


def test_an_unknown_schema_is_404_with_the_known_names(client: TestClient) -> None:
    res = client.get("/v1/schemas/Nope")
    assert res.status_code == 404
    error = res.json()["error"]
    assert error["code"] == "not_found"
    assert error["details"]["known"] == sorted(HANDOFF_MODELS)
    assert "DeploymentRequest" in error["message"]


def test_the_deployment_schema_has_no_client_mode(client: TestClient) -> None:
    props = client.get("/v1/schemas/DeploymentRequest").json()["properties"]
    assert "required_mode" not in props
    assert {"release", "release_tag", "commit_sha", "commit_time", "changes"} <= set(props)


def test_an_invalid_body_is_a_422_naming_the_invariant(client: TestClient) -> None:
    res = client.post("/echo", json=f.deployment(security_audit=f.audit(release=f.OTHER_RELEASE)))
    assert res.status_code == 422
    assert "invariant audit_matches_release" in res.text
    ok = client.post("/echo", json=f.deployment())
    assert ok.status_code == 200
    assert ok.json()["release"] == f.RELEASE
