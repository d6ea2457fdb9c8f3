"""Alertmanager's webhook: firing P1/P2 alerts open one incident per service and environment,
turn incident_active on, resolved alerts close what they opened; bad calls change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from controlplane.config import Settings

TOKEN = "receiver-token-0123456789"
HOOK = "/v1/webhooks/alertmanager"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"alertmanager_token": SecretStr(TOKEN)})


def alert(status: str = "firing", fp: str = "a1b2c3", **labels: str) -> dict[str, Any]:
    base = {"alertname": "BurnRateFast", "service": "bankchurn", "environment": "dev",
            "severity": "P1"}  # fmt: skip
    return {
        "status": status,
        "labels": {**base, **labels},
        "annotations": {"summary": "bankchurn is burning its error budget"},
        "startsAt": "2026-12-03T07:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-12-03T07:20:00Z",
        "generatorURL": "http://127.0.0.1:9090/graph",
        "fingerprint": fp,
    }


def payload(*alerts: dict[str, Any]) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    return {"version": "4", "groupKey": "{}:{alertname=\"BurnRateFast\"}", "truncatedAlerts": 0,
            "status": "firing" if firing else "resolved", "receiver": "controlplane",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://127.0.0.1:9093", "alerts": list(alerts)}  # fmt: skip


def send(client: TestClient, body: Any, token: str | None = TOKEN) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(HOOK, json=body, headers=headers)


def mode(client: TestClient, admin: dict[str, str]) -> str:
    body = {"operation": "deploy", "environment": "dev", "service": "bankchurn"}
    return str(client.post("/v1/decisions", json=body, headers=admin).json()["final_mode"])


def test_a_firing_p1_opens_one_incident_and_its_resolution_closes_it(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    assert mode(client, admin_headers) == "AUTO"
    r = send(client, payload(alert()))
    assert r.status_code == 200, r.text
    [opened] = r.json()["opened"]
    for _ in range(3):  # Alertmanager repeats a group every repeat_interval, and floods happen
        again = send(client, payload(alert(), alert(fp="d4e5f6", alertname="HighErrorRatio")))
        assert again.json()["opened"] == [] and opened in again.json()["joined"] + [opened]
    assert mode(client, admin_headers) == "CONSULT"  # incident_active, within one refresh

    incident = client.get(f"/v1/incidents/{opened}", headers=admin_headers).json()
    assert (incident["severity"], incident["source"], incident["status"]) == (
        "P1",
        "alertmanager",
        "open",
    )
    assert sorted(a["fingerprint"] for a in incident["alerts"]) == ["a1b2c3", "d4e5f6"]
    listed = client.get("/v1/incidents?status=open", headers=admin_headers).json()
    assert listed["count"] == 1

    first = send(client, payload(alert("resolved")))
    assert first.json()["resolved_incidents"] == []  # one alert still fires
    last = send(client, payload(alert("resolved", fp="d4e5f6", alertname="HighErrorRatio")))
    assert last.json()["resolved_incidents"] == [opened]
    assert mode(client, admin_headers) == "AUTO"
    done = client.get(f"/v1/incidents/{opened}", headers=admin_headers).json()
    assert done["status"] == "resolved" and done["resolved_by"] == "alertmanager"
    kinds = [e["kind"] for e in done["timeline"]]
    assert kinds[0] == "opened" and kinds[-1] == "resolved"
    assert kinds.count("alert_fired") == 2 and kinds.count("alert_resolved") == 2

    reopened = send(client, payload(alert()))  # the same alert firing later: a new incident
    assert reopened.json()["opened"] and reopened.json()["opened"] != [opened]


def test_p3_alerts_alone_open_nothing_and_unset_severity_counts_as_blocking(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    quiet = send(client, payload(alert(severity="warning")))
    assert quiet.json()["ignored"] == 1 and quiet.json()["opened"] == []
    unset = alert(fp="0f0f")
    del unset["labels"]["severity"]
    loud = send(client, payload(unset))
    [opened] = loud.json()["opened"]
    got = client.get(f"/v1/incidents/{opened}", headers=admin_headers).json()
    assert got["severity"] == "P2"


@pytest.mark.parametrize(
    ("token", "body", "status"),
    [
        (None, payload(alert()), 401),
        ("wrong-token", payload(alert()), 401),
        ("wrong-token", {"not": "a payload"}, 401),  # refused before the body is read
        (TOKEN, {**payload(alert()), "version": "3"}, 422),
        (TOKEN, payload({**alert(), "fingerprint": "NOT HEX"}), 422),
        (TOKEN, payload({**alert(), "status": "burning"}), 422),
        (TOKEN, {**payload(alert()), "alerts": []}, 422),
    ],
)
def test_bad_calls_are_refused_and_change_nothing(
    client: TestClient, admin_headers: dict[str, str], token: str | None, body: Any, status: int
) -> None:
    r = send(client, body, token)
    assert r.status_code == status, r.text
    assert TOKEN not in r.text
    assert client.get("/v1/incidents", headers=admin_headers).json()["count"] == 0


def test_an_unconfigured_receiver_refuses(client: TestClient, settings: Settings) -> None:
    client.app.state.ctx.settings = settings.model_copy(update={"alertmanager_token": None})  # type: ignore[attr-defined]
    assert send(client, payload(alert())).status_code == 401


def test_notes_links_and_severity_only_up(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    [opened] = send(client, payload(alert(severity="P2"))).json()["opened"]
    url = f"/v1/incidents/{opened}"
    note = client.post(f"{url}/notes", json={"text": "paged the owner"}, headers=admin_headers)
    assert note.status_code == 201, note.text
    lower = client.patch(url, json={"severity": "P4"}, headers=admin_headers)
    assert lower.status_code == 409 and "severity" in lower.text
    vague = client.patch(url, json={"mitigated": 0}, headers=admin_headers)
    assert vague.status_code == 422 and "mitigated" in vague.text  # a flag is true or false
    up = client.patch(url, json={"severity": "P1", "deployment_id": "d" * 32, "mitigated": True},
                      headers=admin_headers)  # fmt: skip
    assert up.status_code == 200, up.text
    got = up.json()
    assert got["severity"] == "P1" and got["deployment_id"] == "d" * 32 and got["mitigated_at"]
    kinds = [e["kind"] for e in got["timeline"]]
    assert {"note", "severity", "linked", "mitigated"} <= set(kinds)
    unknown = client.patch(f"/v1/incidents/{'0' * 32}", json={"mitigated": True},
                           headers=admin_headers)  # fmt: skip
    assert unknown.status_code == 404
