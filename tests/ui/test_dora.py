"""The DORA page over seeded production rows: the keys with bands and raw numbers, the splits,
the weekly numbers without JavaScript, roles, bad input and the CSV export."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from controlplane.clock import ManualClock
from tests.dora.conftest import deployment, incident


def seed(app: FastAPI, *rows: Any) -> list[Any]:
    """Write deployment and incident rows through the domains' own models."""
    with Session(app.state.ctx.engine, expire_on_commit=False) as session:
        session.add_all(rows)
        session.commit()
    return list(rows)


def key_card(html: str, field: str) -> str:
    """The text of one key's card."""
    found = re.search(rf'<article [^>]*id="key-{field}">(.*?)</article>', html, re.S)
    assert found is not None, field
    return re.sub(r"\s+", " ", found.group(1))


@pytest.fixture
def seeded(app: FastAPI, clock: ManualClock) -> dict[str, Any]:
    """Three succeeded production deployments (ci, agent, human), one failed agent rollout, a
    staging one (not counted) and a human deployment with no commit time named by an incident."""
    now = clock.now()
    *_, blamed = seed(
        app,
        deployment(now - timedelta(days=1), requester="ci",
                   commit_time=now - timedelta(days=1, hours=3)),
        deployment(now - timedelta(days=2), requester="agent",
                   commit_time=now - timedelta(days=2, hours=5)),
        deployment(now - timedelta(days=3), requester="human", service="chicagotaxi",
                   commit_time=now - timedelta(days=3, hours=1)),
        deployment(now - timedelta(days=4), requester="agent", status="failed",
                   started=now - timedelta(days=4, minutes=10)),
        deployment(now - timedelta(hours=5), environment="staging", requester="agent"),
        deployment(now - timedelta(days=5), requester="human"),
    )  # fmt: skip
    seed(app, incident(now - timedelta(days=5) + timedelta(hours=1), deployment_id=blamed.id,
                       resolved=now - timedelta(days=5) + timedelta(hours=3)))  # fmt: skip
    return {"blamed": blamed}


def test_a_viewer_sees_the_five_keys_with_raw_numbers_bands_and_what_was_left_out(
    ui_for, seeded
) -> None:
    page = ui_for("vera").get("/ui/dora?window=7")
    assert page.status_code == 200, page.text
    html = page.text
    frequency = key_card(html, "deployment_frequency")
    # 4 succeeded production deployments (staging is not production) over 7 days
    assert "0.57/day" in frequency and "4 / 7" in frequency and "last 7 days" in frequency
    assert 'class="band band-high"' in frequency and "Between once per day and once per week" in (
        frequency
    )
    cfr = key_card(html, "change_failure_rate")
    # distinct failed ones: the failed rollout and the one an incident names, over 5 finished
    assert "40.0%" in cfr and "2 / 5" in cfr
    lead = key_card(html, "lead_time")
    assert "median of 3" in lead and "left out: 1 no commit time" in lead
    rework = key_card(html, "rework_rate")
    # the 2023 report has no rework bands: said in words, not only by a grey colour
    assert "0.0%" in rework and "0 / 4" in rework and 'band-none">no band<' in rework
    model = html.split('id="model-view"', 1)[1].split("</section>", 1)[0]
    assert "challenger trained → production" in model
    assert "has a known training time (4 no training time)" in model
    by_requester = html.split('id="by-requester"', 1)[1].split("</section>", 1)[0]
    for kind in ("human", "agent", "ci"):
        assert f'<th scope="row">{kind}</th>' in by_requester, kind
    by_service = html.split('id="by-service"', 1)[1].split("</section>", 1)[0]
    assert '<th scope="row">chicagotaxi</th>' in by_service
    assert '<th scope="row">bankchurn</th>' in by_service
    # the weekly numbers as a table for readers without JavaScript, the chart data as JSON only
    weekly = html.split('id="dora-weekly"', 1)[1].split("</table>", 1)[0]
    assert sum(int(n) for n in re.findall(r"<tr><td>[-\d]+</td><td>\d</td><td>(\d+)</td>",
                                           weekly)) == 4  # fmt: skip
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all("src=" in s or 'type="application/json"' in s for s in scripts)
    assert 'href="/ui/dora"' in html and 'aria-current="page"' in html


def test_one_service_and_the_2024_bands_are_chosen_with_a_plain_get_form(ui_for, seeded) -> None:
    page = ui_for("vera").get("/ui/dora?window=30&service=chicagotaxi&bands=2024")
    assert page.status_code == 200
    assert "production of chicagotaxi, last 30 days" in page.text
    assert "1 / 30" in key_card(page.text, "deployment_frequency")
    assert "<option selected>2024</option>" in page.text
    assert '<form class="filters" method="get" action="/ui/dora">' in page.text


def test_a_page_with_no_data_says_so(ui_for) -> None:
    page = ui_for("vera").get("/ui/dora")
    assert page.status_code == 200
    assert "No production deployment finished in these 30 days" in page.text
    assert "nothing to measure yet" in page.text
    assert "0 / 30" in key_card(page.text, "deployment_frequency")


def test_anonymous_is_sent_to_log_in_and_every_role_may_read(app: FastAPI, ui_for, seeded) -> None:
    anonymous = TestClient(app, raise_server_exceptions=False)
    for path in ("/ui/dora", "/ui/dora.csv"):
        r = anonymous.get(path)
        assert r.status_code == 401 and 'href="/ui/login"' in r.text, path
    for person in ("vera", "agent", "bob"):
        assert ui_for(person).get("/ui/dora").status_code == 200, person


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ("window=14", "window", "expected one of 7, 30, 90"),
        ("window=%3Cb%3E", "window", "expected one of 7, 30, 90"),
        ("service=payments", "service", "expected one of"),
        ("bands=2025", "bands", "expected one of 2023, 2024"),
        ("windw=7", "windw", "unknown filter field"),
    ],
)
@pytest.mark.parametrize("path", ["/ui/dora", "/ui/dora.csv"])
def test_bad_input_is_a_4xx_page_naming_the_field(
    ui_for, path: str, query: str, field: str, reason: str
) -> None:
    r = ui_for("vera").get(f"{path}?{query}")
    assert r.status_code == 422, r.text
    assert f"<code>{field}</code>: {reason}" in r.text
    assert "<b>" not in r.text and "text/html" in r.headers["content-type"]


def test_the_csv_export_is_the_cli_layout_of_the_same_numbers(
    ui_for, seeded, client: TestClient, people
) -> None:
    r = ui_for("vera").get("/ui/dora.csv?window=7&service=bankchurn")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="dora-7d-bankchurn-2023.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    from controlplane.dora.export import CSV_FIELDS, to_csv

    assert tuple(rows[0]) == CSV_FIELDS
    api = client.get("/v1/dora", params={"window": 7, "service": "bankchurn"},
                     headers=people["vera"])  # fmt: skip
    assert r.text == to_csv(api.json())  # byte for byte what `opsctl dora --csv` prints
    overall = {row["key"]: row for row in rows if row["slice"] == "overall"}
    assert (overall["deployment_frequency"]["numerator"], overall["deployment_frequency"]["band"]) \
        == ("3.0", "high")  # fmt: skip
    assert overall["lead_time"]["left_out"] == "no_commit_time=1"
    assert {row["name"] for row in rows if row["slice"] == "requester"} >= {"human", "agent", "ci"}
