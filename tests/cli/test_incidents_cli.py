"""`opsctl incidents show|note|update`: the timeline a responder reads and writes."""

from __future__ import annotations

import json

from controlplane.client import ControlPlaneClient

from .conftest import Opsctl


def test_notes_links_and_the_timeline(opsctl: Opsctl, plane_url: str, admin_token: str) -> None:
    with ControlPlaneClient(plane_url, admin_token) as client:
        incident = client.open_incident("P2", "5xx after v2", "bankchurn", environment="dev")
    short = incident["id"][:12]
    noted = opsctl("incidents", "note", short, "paged the owner")
    assert noted.exit_code == 0, noted.output
    linked = opsctl("incidents", "update", short, "--deployment", "d" * 32, "--mitigated")
    assert linked.exit_code == 0, linked.output
    assert f"caused by deployment {'d' * 32}" in linked.stdout
    lower = opsctl("incidents", "update", short, "--severity", "P4")
    assert lower.exit_code == 1 and "only raise" in lower.stderr
    shown = opsctl("incidents", "show", short)
    assert shown.exit_code == 0, shown.output
    for line in ("paged the owner", "mitigated", "P2 opened: 5xx after v2"):
        assert line in shown.stdout
    as_json = json.loads(opsctl("incidents", "show", short, "--json").stdout)
    assert [e["kind"] for e in as_json["timeline"]] == ["opened", "note", "linked", "mitigated"]
