"""One AlertSilencer contract, run against the embedded silencer and a real Alertmanager: a silence
lasts what it was asked for, the same target while silenced is extended (never shortened, never
doubled), each call counts once per key, and an expired silence stays on record.

Both run on the wall clock (Alertmanager keeps its own time), so nothing here moves time; the
embedded silencer's time travel is in tests/adapters/test_silence.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controlplane.adapters.silence import MAX_S, MIN_S, AlertSilencer, EmbeddedSilencer, Silence
from controlplane.adapters.silence_alertmanager import AlertmanagerSilencer
from controlplane.clock import SystemClock
from controlplane.errors import InvalidRequest, NotFound

BANKCHURN = {"service": "bankchurn", "environment": "production"}
HOUR = 3600
SLACK = timedelta(seconds=5)


@pytest.fixture(
    params=["embedded", pytest.param("alertmanager", marks=pytest.mark.monitoring)],
)
def make_silencer(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], AlertSilencer]]:
    """Builds a silencer over the same state each call (a second call is a restarted plane)."""
    if request.param == "embedded":
        yield lambda: EmbeddedSilencer(tmp_path / "silences.json", SystemClock().now)
        return
    am = request.getfixturevalue("alertmanager")
    made: list[AlertmanagerSilencer] = []

    def build() -> AlertSilencer:
        made.append(AlertmanagerSilencer(am.url, timeout_s=5))
        return made[-1]

    yield build
    for adapter in made:
        adapter.close()


@pytest.fixture
def silencer(make_silencer: Callable[[], AlertSilencer]) -> AlertSilencer:
    return make_silencer()


def silence(
    silencer: AlertSilencer,
    key: str,
    duration_s: int = 2 * HOUR,
    matchers: dict[str, str] = BANKCHURN,
) -> Silence:
    return silencer.silence(matchers, duration_s=duration_s, comment=f"rollback run {key}",
                            created_by="alice", idempotency_key=key)  # fmt: skip


def ids(silences: list[Silence]) -> set[str]:
    return {s.id for s in silences}


def near(a: datetime, b: datetime) -> bool:
    return abs(a - b) <= SLACK


def test_a_silence_lasts_its_duration(silencer: AlertSilencer) -> None:
    before = datetime.now(UTC)
    made = silence(silencer, "run1:silence:0")
    assert made.matchers == BANKCHURN and made.state == "active" and made.key == "run1:silence:0"
    assert (made.created_by, made.comment) == ("alice", "rollback run run1:silence:0")
    assert near(made.starts_at, before) and near(made.ends_at, before + timedelta(hours=2))
    assert ids(silencer.active()) == {made.id}
    assert ids(silencer.active(made.ends_at - timedelta(seconds=1))) == {made.id}
    assert silencer.active(made.ends_at) == []


def test_silences_survive_a_restart(make_silencer: Callable[[], AlertSilencer]) -> None:
    made = silence(make_silencer(), "k")
    assert make_silencer().active() == [made]


@pytest.mark.parametrize("seconds", [0, MIN_S - 1, MAX_S + 1, -HOUR])
def test_a_duration_out_of_bounds_is_refused_and_nothing_is_silenced(
    silencer: AlertSilencer, seconds: int
) -> None:
    with pytest.raises(InvalidRequest, match=f"not {seconds}"):
        silence(silencer, "k", duration_s=seconds)
    assert silencer.active() == []


def test_the_same_key_silences_once(make_silencer: Callable[[], AlertSilencer]) -> None:
    silencer = make_silencer()
    made = silence(silencer, "run1:silence:0")
    assert silence(silencer, "run1:silence:0") == made
    assert silence(make_silencer(), "run1:silence:0", duration_s=MAX_S) == made
    assert silencer.active() == [made]


def test_the_same_target_while_silenced_is_extended_never_shortened(
    silencer: AlertSilencer,
) -> None:
    first = silence(silencer, "run1:silence:0", duration_s=HOUR)
    longer = silence(silencer, "run2:silence:0", duration_s=2 * HOUR)
    assert longer.id == first.id and longer.ends_at - first.ends_at > timedelta(minutes=59)
    assert longer.extended_by == ("run2:silence:0",) and longer.starts_at == first.starts_at
    shorter = silence(silencer, "run3:silence:0", duration_s=MIN_S)
    assert shorter.id == first.id and shorter.ends_at == longer.ends_at
    assert ids(silencer.active()) == {first.id}


def test_a_key_still_counts_once_after_another_call_extended_its_silence(
    silencer: AlertSilencer,
) -> None:
    silence(silencer, "run1:silence:0", duration_s=HOUR)
    extended = silence(silencer, "run2:silence:0", duration_s=2 * HOUR)
    assert silence(silencer, "run1:silence:0", duration_s=MAX_S).ends_at == extended.ends_at
    assert silence(silencer, "run2:silence:0", duration_s=MAX_S).ends_at == extended.ends_at
    assert [s.ends_at for s in silencer.active()] == [extended.ends_at]


def test_another_target_gets_its_own_silence(silencer: AlertSilencer) -> None:
    one = silence(silencer, "a")
    other = silence(silencer, "b", matchers={"service": "bankchurn", "environment": "staging"})
    assert one.id != other.id and ids(silencer.active()) == {one.id, other.id}


def test_expire_ends_a_silence_now_and_keeps_it_on_record(silencer: AlertSilencer) -> None:
    made = silence(silencer, "run1:silence:0")
    done = silencer.expire(made.id)
    assert (done.id, done.state, done.matchers) == (made.id, "expired", made.matchers)
    assert near(done.ends_at, datetime.now(UTC)) and done.starts_at == made.starts_at
    assert silencer.active() == []
    assert silencer.expire(made.id) == done  # expiring twice moves nothing
    assert silence(silencer, "run1:silence:0") == done  # a late retry makes nothing new


def test_an_expired_silence_is_not_extended_but_replaced(silencer: AlertSilencer) -> None:
    made = silence(silencer, "run1:silence:0")
    silencer.expire(made.id)
    again = silence(silencer, "run2:silence:0")
    assert again.id != made.id and ids(silencer.active()) == {again.id}


def test_expiring_an_unknown_silence_is_not_found(silencer: AlertSilencer) -> None:
    with pytest.raises(NotFound, match="0a0a0a0a-0000-4000-8000-000000000000"):
        silencer.expire("0a0a0a0a-0000-4000-8000-000000000000")
