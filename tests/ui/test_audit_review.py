"""The audit review page: filters, text search, keyset pages, hashes, chain status, export."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from controlplane.audit.chain import canonical_json
from tests.ui.conftest import audit_records

SEQS = re.compile(r'href="/ui/audit/(\d+)"')


def _seqs(html: str) -> list[int]:
    return [int(s) for s in SEQS.findall(html.split("<tbody>", 1)[1].split("</tbody>", 1)[0])]


def test_filters_and_text_search_pick_the_records_of_a_deployment(
    ui_for, pending_staging, client: TestClient, admin_headers
) -> None:
    vera = ui_for("vera")
    page = vera.get("/ui/audit", params={"actor": "claude-code", "kind": "agent"})
    shown = _seqs(page.text)
    expected = [r["seq"] for r in audit_records(client, admin_headers, actor="claude-code")]
    assert shown == sorted(expected, reverse=True)  # newest first, the same records as the API
    found = vera.get("/ui/audit", params={"q": pending_staging["approval_id"]})
    hits = _seqs(found.text)
    assert hits, found.text
    for seq in hits:
        assert pending_staging["approval_id"] in vera.get(f"/ui/audit/{seq}").text
    none = vera.get("/ui/audit", params={"kind": "ci"})
    assert "No audit records match these filters." in none.text


def test_keyset_pages_cover_the_log_once_and_past_the_end_is_a_404(
    ui_for, pending_staging, client: TestClient, admin_headers
) -> None:
    vera = ui_for("vera")
    seen: list[int] = []
    url = "/ui/audit?limit=3"
    while url:
        page = vera.get(url)
        assert page.status_code == 200
        seen += _seqs(page.text)
        nxt = re.search(r'rel="next" href="([^"]+)"', page.text)
        url = nxt.group(1).replace("&amp;", "&") if nxt else ""
    everything = [r["seq"] for r in audit_records(client, admin_headers)]
    assert seen == sorted(everything, reverse=True) and len(set(seen)) == len(seen)
    past = vera.get("/ui/audit", params={"cursor": "1", "limit": "3"})
    assert past.status_code == 404 and "past the end" in past.text
    past_search = vera.get("/ui/audit", params={"q": "deploy", "cursor": "1"})
    assert past_search.status_code == 404 and "past the end" in past_search.text


def test_a_record_shows_its_hash_and_prev_hash(ui_for, client: TestClient, admin_headers) -> None:
    first, second = audit_records(client, admin_headers)[:2]
    page = ui_for("vera").get(f"/ui/audit/{second['seq']}")
    assert second["hash"] in page.text and second["prev_hash"] == first["hash"]
    assert first["hash"] in page.text  # shown as this record's prev_hash


def test_the_chain_status_says_how_many_records_and_that_it_verified(
    ui_for, client: TestClient, admin_headers
) -> None:
    import time

    vera = ui_for("vera")
    count = len(audit_records(client, admin_headers))
    first = vera.get("/ui/audit/chain")  # answers at once; the walk runs behind it
    assert first.status_code == 200
    deadline = time.monotonic() + 30
    while True:
        page = vera.get("/ui/audit/chain")
        status = re.search(r'id="chain"[^>]*>([^<]+)<', page.text)
        assert status is not None
        if "Verifying" not in status.group(1):
            break
        assert 'http-equiv="refresh"' in page.text  # without JavaScript the page reloads itself
        assert time.monotonic() < deadline, status.group(1)
        time.sleep(0.05)
    assert status.group(1).startswith(f"{count} records, chain verified")


def test_a_new_record_makes_the_next_view_walk_the_chain_again(
    ui_for, client: TestClient, admin_headers, people
) -> None:
    import time

    vera = ui_for("vera")

    def settled_status() -> str:
        deadline = time.monotonic() + 30
        while True:
            text = vera.get("/ui/audit/chain").text
            if "Verifying" not in text:
                found = re.search(r'id="chain"[^>]*>([^<]+)<', text)
                assert found is not None
                return found.group(1)
            assert time.monotonic() < deadline
            time.sleep(0.05)

    before = settled_status()
    client.post("/v1/incidents", json={"severity": "P4", "title": "x"}, headers=people["alice"])
    after = settled_status()
    count = len(audit_records(client, admin_headers))
    assert before != after and after.startswith(f"{count} records, chain verified")


def test_the_export_is_the_filtered_view_in_the_apis_export_form(
    ui_for, pending_staging, client: TestClient, admin_headers
) -> None:
    r = ui_for("vera").get("/ui/audit/export", params={"actor": "claude-code"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in r.headers["content-disposition"]
    lines = [json.loads(line) for line in r.text.splitlines()]
    whole = {
        json.loads(line)["seq"]: line
        for line in client.get("/v1/audit/export", headers=admin_headers).text.splitlines()
    }
    assert lines and all(line["agent"] == "claude-code" for line in lines)
    assert [line["seq"] for line in lines] == sorted(line["seq"] for line in lines)
    for line in lines:  # byte for byte what the API's full export says of that record
        assert canonical_json(line) == whole[line["seq"]]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"since": "yesterday"}, "since: &#39;yesterday&#39; is not a date"),
        ({"until": "2026-13-45"}, "until: &#39;2026-13-45&#39; is not a date"),
        ({"since": "2026-11-26", "until": "2026-11-25"}, "until: must be after since"),
        ({"colour": "red"}, "colour: unknown filter field"),
        ({"result": "exploded"}, "result: expected one of"),
        ({"cursor": "-4"}, "cursor: &#39;-4&#39; is not a whole number"),
        ({"limit": "100000"}, "limit: must be between 1 and 500"),
        ({"q": "x" * 201}, "q: at most 200 characters"),
    ],
)
def test_bad_filters_are_422_pages_naming_the_field(ui_for, params, says: str) -> None:
    page = ui_for("vera").get("/ui/audit", params=params)
    assert page.status_code == 422 and says in page.text, page.text


@pytest.mark.parametrize(
    "q",
    ["' OR 1=1 --", "%' UNION SELECT hash FROM audit_log --", "<script>alert(1)</script>", "_%\\"],
)
def test_a_search_with_sql_or_html_in_it_is_only_text(ui_for, q: str) -> None:
    page = ui_for("vera").get("/ui/audit", params={"q": q})
    assert page.status_code == 200
    assert "No audit records match these filters." in page.text  # no record mentions it
    assert "<script>alert(1)</script>" not in page.text


def test_a_bad_record_number_is_a_clear_4xx(ui_for) -> None:
    vera = ui_for("vera")
    assert vera.get("/ui/audit/abc").status_code == 422
    assert vera.get("/ui/audit/99999999999999999999999").status_code == 422
    missing = vera.get("/ui/audit/999999")
    assert missing.status_code == 404 and "audit record 999999 not found" in missing.text


def test_a_text_search_reads_a_bounded_stretch_and_offers_the_next(
    ui_for, pending_staging, client: TestClient, admin_headers, monkeypatch
) -> None:
    from controlplane.ui.views import audit as view

    monkeypatch.setattr(view, "TEXT_WINDOW", 3)
    oldest = audit_records(client, admin_headers, operation="deploy")[0]  # the dev request
    vera = ui_for("vera")
    url, pages = "/ui/audit?q=deploy", 0
    found: list[int] = []
    while url:
        page = vera.get(url)
        assert page.status_code == 200, page.text
        assert "text search: read records" in page.text
        found += _seqs(page.text) if "<tbody>" in page.text else []
        nxt = re.search(r'rel="next" href="([^"]+)"', page.text)
        url = nxt.group(1).replace("&amp;", "&") if nxt else ""
        pages += 1
    total = len(audit_records(client, admin_headers))
    assert pages >= total // 3  # no page read more than its stretch
    assert oldest["seq"] in found  # yet following the links reaches the oldest match
