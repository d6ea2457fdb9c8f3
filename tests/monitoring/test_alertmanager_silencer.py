"""AlertmanagerSilencer against a real Alertmanager: what the plane asks for is what Alertmanager
holds (read back through its own API and amtool), a retried step makes nothing twice, expiry is
Alertmanager's, and Alertmanager down, slow or refusing comes back as the plane's errors."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from controlplane.adapters.silence import MAX_S, MIN_S, Silence
from controlplane.adapters.silence_alertmanager import (
    AlertmanagerSilencer,
    marker,
    parse_time,
    rfc3339,
    split_comment,
)
from controlplane.errors import (
    AdapterError,
    AdapterUnavailable,
    InvalidRequest,
    NotFound,
    Unavailable,
)
from tests.monitoring.alertmanager_process import Alertmanager

pytestmark = pytest.mark.monitoring

BANKCHURN = {"service": "bankchurn", "environment": "production"}
HOUR = 3600
SLACK = timedelta(seconds=5)  # the plane's clock and Alertmanager's are the same machine's


@pytest.fixture
def silencer(alertmanager: Alertmanager) -> Iterator[AlertmanagerSilencer]:
    made = AlertmanagerSilencer(alertmanager.url, timeout_s=5)
    yield made
    made.close()


def silence(
    silencer: AlertmanagerSilencer,
    key: str,
    duration_s: int = 2 * HOUR,
    matchers: dict[str, str] = BANKCHURN,
) -> Silence:
    return silencer.silence(matchers, duration_s=duration_s, comment=f"rollback run {key}",
                            created_by="alice", idempotency_key=key)  # fmt: skip


def raw_silences(am: Alertmanager) -> list[dict[str, Any]]:
    """Every silence, straight from Alertmanager's API (not through the adapter)."""
    response = httpx.get(f"{am.url}/api/v2/silences")
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()
    return items


def raw_silence(am: Alertmanager, silence_id: str) -> dict[str, Any]:
    response = httpx.get(f"{am.url}/api/v2/silence/{silence_id}")
    response.raise_for_status()
    item: dict[str, Any] = response.json()
    return item


def near(a: datetime, b: datetime) -> bool:
    return abs(a - b) <= SLACK


# -- what Alertmanager holds -------------------------------------------------------------------


def test_a_silence_is_in_alertmanager_with_its_matchers_end_author_and_marker(
    silencer: AlertmanagerSilencer, alertmanager: Alertmanager
) -> None:
    before = datetime.now(UTC)
    made = silence(silencer, "run1:silence:0")
    [held] = raw_silences(alertmanager)
    assert held["id"] == made.id and held["status"]["state"] == "active"
    assert sorted(held["matchers"], key=lambda m: m["name"]) == [
        {"name": "environment", "value": "production", "isRegex": False, "isEqual": True},
        {"name": "service", "value": "bankchurn", "isRegex": False, "isEqual": True},
    ]
    assert parse_time(held["endsAt"]) == made.ends_at
    assert near(made.ends_at, before + timedelta(hours=2)) and near(made.starts_at, before)
    assert made.ends_at - made.starts_at <= timedelta(hours=2)
    assert held["createdBy"] == "alice"
    assert held["comment"] == f"rollback run run1:silence:0 {marker('run1:silence:0')}"
    assert (made.comment, made.created_by, made.key, made.state) == (
        "rollback run run1:silence:0", "alice", "run1:silence:0", "active"
    )  # fmt: skip
    assert made.matchers == BANKCHURN


def test_amtool_sees_the_silence_the_plane_made(
    silencer: AlertmanagerSilencer, alertmanager: Alertmanager
) -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool is not installed (it comes with prometheus-alertmanager)")
    made = silence(silencer, "run1:silence:0")
    out = subprocess.run(
        [amtool, f"--alertmanager.url={alertmanager.url}", "silence", "query", "-o", "json",
         "service=bankchurn"],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout  # fmt: skip
    [seen] = json.loads(out)
    assert seen["id"] == made.id and seen["createdBy"] == "alice"


def test_a_retry_with_the_same_key_returns_the_same_silence_and_makes_no_second(
    silencer: AlertmanagerSilencer, alertmanager: Alertmanager
) -> None:
    made = silence(silencer, "run1:silence:0")
    # the step is retried (its first answer was lost), by a fresh adapter: a restarted plane
    again = AlertmanagerSilencer(alertmanager.url)
    assert silence(again, "run1:silence:0") == made
    assert silence(again, "run1:silence:0", duration_s=MAX_S) == made  # not extended by it
    assert [s["id"] for s in raw_silences(alertmanager)] == [made.id]
    assert parse_time(raw_silence(alertmanager, made.id)["endsAt"]) == made.ends_at
    again.close()


def test_the_same_target_is_extended_in_place_and_each_key_counts_once(
    silencer: AlertmanagerSilencer, alertmanager: Alertmanager
) -> None:
    first = silence(silencer, "run1:silence:0", duration_s=HOUR)
    longer = silence(silencer, "run2:silence:0", duration_s=2 * HOUR)
    assert longer.id == first.id and longer.ends_at > first.ends_at + timedelta(minutes=59)
    assert (longer.key, longer.extended_by) == ("run1:silence:0", ("run2:silence:0",))
    assert longer.comment == first.comment and longer.starts_at == first.starts_at
    shorter = silence(silencer, "run3:silence:0", duration_s=MIN_S)
    assert shorter.id == first.id and shorter.ends_at == longer.ends_at  # never shortened
    for key in ("run1:silence:0", "run2:silence:0", "run3:silence:0"):
        assert silence(silencer, key, duration_s=MAX_S).ends_at == longer.ends_at
    [held] = raw_silences(alertmanager)  # Alertmanager updated it: no expired predecessor
    assert held["id"] == first.id and parse_time(held["endsAt"]) == longer.ends_at
    assert split_comment(held["comment"])[1] == [
        "run1:silence:0", "run2:silence:0", "run3:silence:0"
    ]  # fmt: skip


def test_a_silence_someone_else_made_is_left_alone(
    silencer: AlertmanagerSilencer, alertmanager: Alertmanager
) -> None:
    now = datetime.now(UTC)
    human = httpx.post(f"{alertmanager.url}/api/v2/silences", json={
        "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True}
                     for k, v in BANKCHURN.items()],
        "startsAt": rfc3339(now), "endsAt": rfc3339(now + timedelta(minutes=30)),
        "createdBy": "bob", "comment": "maintenance window",
    }).json()["silenceID"]  # fmt: skip
    made = silence(silencer, "run1:silence:0")
    assert made.id != human
    assert raw_silence(alertmanager, human)["comment"] == "maintenance window"
    listed = {s.id: s for s in silencer.active()}
    assert set(listed) == {human, made.id}  # active() is everything in force
    assert (listed[human].key, listed[human].created_by) == ("", "bob")


def test_expire_ends_it_in_alertmanager_and_twice_is_no_error(
    silencer: AlertmanagerSilencer, alertmanager: Alertmanager
) -> None:
    made = silence(silencer, "run1:silence:0")
    done = silencer.expire(made.id)
    held = raw_silence(alertmanager, made.id)
    assert held["status"]["state"] == "expired" == done.state
    assert done.id == made.id and parse_time(held["endsAt"]) == done.ends_at
    assert near(done.ends_at, datetime.now(UTC)) and done.ends_at < made.ends_at
    assert done.matchers == made.matchers and done.key == made.key
    assert silencer.active() == []
    assert silencer.expire(made.id) == done  # already expired: returned as it is
    # a retried silence step after its compensation ran makes nothing new
    assert silence(silencer, "run1:silence:0") == done
    assert len(raw_silences(alertmanager)) == 1


def test_an_expired_silence_is_replaced_not_extended(silencer: AlertmanagerSilencer) -> None:
    made = silence(silencer, "run1:silence:0")
    silencer.expire(made.id)
    again = silence(silencer, "run2:silence:0")
    assert again.id != made.id and [s.id for s in silencer.active()] == [again.id]


@pytest.mark.parametrize("silence_id", ["nope", "00000000-0000-4000-8000-000000000000"])
def test_expiring_an_unknown_silence_is_not_found(
    silencer: AlertmanagerSilencer, silence_id: str
) -> None:
    with pytest.raises(NotFound, match=silence_id):
        silencer.expire(silence_id)


def test_active_lists_what_is_in_force_at_a_time(silencer: AlertmanagerSilencer) -> None:
    short = silence(silencer, "a", duration_s=MIN_S)
    long = silence(silencer, "b", duration_s=HOUR, matchers={"service": "nlpinsight"})
    assert {s.id for s in silencer.active()} == {short.id, long.id}
    in_ten_minutes = datetime.now(UTC) + timedelta(minutes=10)
    assert [s.id for s in silencer.active(in_ten_minutes)] == [long.id]
    assert silencer.active(datetime.now(UTC) + timedelta(hours=2)) == []


def test_odd_label_values_round_trip(silencer: AlertmanagerSilencer) -> None:
    odd = {"service": 'bank "churn" \\ ü', "environment": "a=b,c"}
    made = silence(silencer, "k1", matchers=odd)
    assert made.matchers == odd
    assert silence(silencer, "k1", matchers=odd) == made  # found again through `filter`
    assert silence(silencer, "k2", matchers=odd).id == made.id  # and extended


# -- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [0, MIN_S - 1, MAX_S + 1])
def test_a_duration_out_of_bounds_is_refused_before_alertmanager_is_asked(
    silencer: AlertmanagerSilencer, alertmanager: Alertmanager, seconds: int
) -> None:
    with pytest.raises(InvalidRequest, match=f"not {seconds}"):
        silence(silencer, "k", duration_s=seconds)
    assert raw_silences(alertmanager) == []


def test_a_key_that_cannot_ride_in_a_marker_is_refused(silencer: AlertmanagerSilencer) -> None:
    with pytest.raises(InvalidRequest, match="marker"):
        silence(silencer, "run 1 ]")


@pytest.mark.parametrize(
    ("matchers", "said"),
    [
        ({"bad-name": "x"}, 'bad matcher format: bad-name="x"'),
        ({"service": ""}, "at least one matcher must not match the empty string"),
    ],
)
def test_a_matcher_alertmanager_refuses_is_an_adapter_error_with_its_message(
    silencer: AlertmanagerSilencer, alertmanager: Alertmanager, matchers: dict[str, str], said: str
) -> None:
    with pytest.raises(AdapterError) as caught:
        silence(silencer, "k", matchers=matchers)
    assert not isinstance(caught.value, Unavailable)
    assert caught.value.details["status"] == 400
    assert alertmanager.url in caught.value.message
    assert said in caught.value.message
    assert raw_silences(alertmanager) == []


# -- Alertmanager down, slow or broken ---------------------------------------------------------


def test_alertmanager_stopped_is_unavailable_naming_its_url(
    silencer: AlertmanagerSilencer, alertmanager: Alertmanager
) -> None:
    made = silence(silencer, "run1:silence:0")
    alertmanager.stop()
    calls: dict[str, Callable[[], object]] = {
        "silence": lambda: silence(silencer, "run2:silence:0"),
        "expire": lambda: silencer.expire(made.id),
        "active": silencer.active,
    }
    for name, call in calls.items():
        with pytest.raises(Unavailable) as caught:
            call()
        assert isinstance(caught.value, AdapterUnavailable), name
        assert f"alertmanager at {alertmanager.url} is unreachable" in caught.value.message
        assert caught.value.details["url"] == alertmanager.url


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def test_alertmanager_too_slow_is_unavailable_after_the_timeout(silent_port: int) -> None:
    url = f"http://127.0.0.1:{silent_port}"
    slow = AlertmanagerSilencer(url, timeout_s=0.3)
    with pytest.raises(AdapterUnavailable, match=r"did not answer GET /api/v2/silences within 0.3"):
        slow.active()
    slow.close()


def mocked(handler: Any) -> AlertmanagerSilencer:
    return AlertmanagerSilencer(
        "http://am.test:9093/", client=httpx.Client(transport=httpx.MockTransport(handler))
    )


def test_a_5xx_is_unavailable_with_alertmanager_s_message() -> None:
    adapter = mocked(lambda request: httpx.Response(503, json="cluster not settled"))
    with pytest.raises(AdapterUnavailable) as caught:
        silence(adapter, "k")
    assert caught.value.message == (
        "alertmanager at http://am.test:9093 failed to list silences (503): cluster not settled"
    )
    assert caught.value.details["status"] == 503


def test_an_answer_that_is_not_alertmanager_s_api_is_unavailable() -> None:
    adapter = mocked(lambda request: httpx.Response(200, text="<html>login</html>"))
    with pytest.raises(AdapterUnavailable, match="not Alertmanager's API v2: not JSON"):
        adapter.active()
    shaped = mocked(lambda request: httpx.Response(200, json=[{"id": "x"}]))
    with pytest.raises(AdapterUnavailable, match="KeyError"):
        shaped.active()


def test_a_delete_refused_for_a_silence_that_ran_out_meanwhile_is_not_an_error() -> None:
    """Older Alertmanagers answer 500 "already expired"; the adapter reads the silence again."""
    now = datetime.now(UTC)
    state = {"state": "active"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            state["state"] = "expired"
            return httpx.Response(500, json="silence abc already expired")
        return httpx.Response(200, json={
            "id": "abc", "status": dict(state), "matchers": [
                {"name": "service", "value": "bankchurn", "isRegex": False, "isEqual": True}],
            "startsAt": rfc3339(now), "endsAt": rfc3339(now), "updatedAt": rfc3339(now),
            "createdBy": "alice", "comment": marker("k"),
        })  # fmt: skip

    assert mocked(handler).expire("abc").state == "expired"


def test_times_are_rfc3339_utc_with_milliseconds() -> None:
    moment = datetime(2026, 3, 4, 11, 0, 0, 123456, tzinfo=UTC)
    assert rfc3339(moment) == "2026-03-04T11:00:00.123Z"
    assert parse_time("2026-03-04T11:00:00.123Z") == moment.replace(microsecond=123000)
    assert parse_time("2026-03-04T12:00:00.123456789+01:00") == moment
    with pytest.raises(ValueError, match="timezone-aware"):
        rfc3339(datetime(2026, 3, 4))


def test_markers_are_read_from_the_end_of_the_comment_only() -> None:
    assert split_comment("rollback [controlplane:a] [controlplane:b]") == ("rollback", ["a", "b"])
    assert split_comment("[controlplane:a]") == ("", ["a"])
    assert split_comment("see [controlplane:a] later") == ("see [controlplane:a] later", [])
