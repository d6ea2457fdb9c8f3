"""The embedded silencer under the plane's clock (time travel): a silence lasts what it was asked
for, the same target while silenced is extended, each call counts once per key even later, and an
ended silence keeps the time it really ended. What needs no clock is in the silencer contract
(tests/monitoring/test_silencer_contract.py), run against this silencer and a real Alertmanager."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from controlplane.adapters.silence import MAX_S, MIN_S, EmbeddedSilencer, Silence
from controlplane.clock import ManualClock
from controlplane.errors import InvalidRequest
from controlplane.playbook.actions.ops import SilenceIn

BANKCHURN = {"service": "bankchurn", "environment": "production"}
HOUR = 3600


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "silences.json"


@pytest.fixture
def silencer(path: Path, clock: ManualClock) -> EmbeddedSilencer:
    return EmbeddedSilencer(path, clock.now)  # as wiring.py builds it: the door's clock


def silence(
    silencer: EmbeddedSilencer,
    key: str,
    duration_s: int = 2 * HOUR,
    matchers: dict[str, str] = BANKCHURN,
) -> Silence:
    return silencer.silence(matchers, duration_s=duration_s, comment=f"rollback run {key}",
                            created_by="alice", idempotency_key=key)  # fmt: skip


def ids(silences: list[Silence]) -> set[str]:
    return {s.id for s in silences}


def test_a_silence_lasts_its_duration_by_the_clock(
    silencer: EmbeddedSilencer, clock: ManualClock
) -> None:
    made = silence(silencer, "run1:silence:0")
    assert made.matchers == BANKCHURN and made.state == "active"
    assert made.starts_at == clock.now() and made.ends_at == clock.now() + timedelta(hours=2)
    assert (made.created_by, made.comment) == ("alice", "rollback run run1:silence:0")
    clock.advance(timedelta(hours=2) - timedelta(seconds=1))
    assert ids(silencer.active()) == {made.id}
    clock.advance(timedelta(seconds=1))
    assert silencer.active() == []
    assert ids(silencer.active(made.starts_at + timedelta(minutes=5))) == {made.id}


def test_the_duration_is_bounded_as_the_silence_action_is() -> None:
    bounds = {m.__class__.__name__: m for m in SilenceIn.model_fields["duration"].metadata}
    assert (bounds["Ge"].ge, bounds["Le"].le) == (MIN_S, MAX_S)


@pytest.mark.parametrize("seconds", [0, MIN_S - 1, MAX_S + 1, -HOUR])
def test_a_duration_out_of_bounds_is_refused_and_nothing_is_silenced(
    silencer: EmbeddedSilencer, path: Path, seconds: int
) -> None:
    with pytest.raises(InvalidRequest, match=f"not {seconds}"):
        silence(silencer, "k", duration_s=seconds)
    assert silencer.active() == [] and not path.exists()


def test_the_bounds_themselves_are_accepted(silencer: EmbeddedSilencer) -> None:
    shortest = silence(silencer, "a", duration_s=MIN_S)
    longest = silence(silencer, "b", duration_s=MAX_S, matchers={"service": "nlpinsight"})
    assert shortest.ends_at - shortest.starts_at == timedelta(seconds=MIN_S)
    assert longest.ends_at - longest.starts_at == timedelta(seconds=MAX_S)


def test_the_same_target_while_silenced_is_extended_never_shortened(
    silencer: EmbeddedSilencer, clock: ManualClock
) -> None:
    first = silence(silencer, "run1:silence:0")
    clock.advance(timedelta(hours=1))
    longer = silence(silencer, "run2:silence:0")
    assert longer.id == first.id and longer.ends_at == clock.now() + timedelta(hours=2)
    shorter = silence(silencer, "run3:silence:0", duration_s=10 * 60)
    assert shorter.id == first.id and shorter.ends_at == longer.ends_at
    assert ids(silencer.active()) == {first.id}


def test_once_a_silence_ended_the_same_target_gets_a_new_one(
    silencer: EmbeddedSilencer, clock: ManualClock
) -> None:
    first = silence(silencer, "run1:silence:0")
    clock.advance(timedelta(hours=3))
    again = silence(silencer, "run2:silence:0")
    assert again.id != first.id and again.starts_at == clock.now()


def test_the_same_key_silences_once_even_later_and_after_a_restart(
    silencer: EmbeddedSilencer, path: Path, clock: ManualClock
) -> None:
    made = silence(silencer, "run1:silence:0")
    clock.advance(timedelta(hours=1))
    assert silence(silencer, "run1:silence:0") == made  # not extended by the retry
    restarted = EmbeddedSilencer(path, clock.now)
    assert silence(restarted, "run1:silence:0", duration_s=MAX_S) == made
    assert silencer.active()[0].ends_at == made.ends_at


def test_a_key_still_counts_once_after_another_call_extended_its_silence(
    silencer: EmbeddedSilencer, clock: ManualClock
) -> None:
    silence(silencer, "run1:silence:0")
    clock.advance(timedelta(hours=1))
    extended = silence(silencer, "run2:silence:0")
    clock.advance(timedelta(minutes=30))
    # both runs resume and retry their step with their own key: neither extends it again
    assert silence(silencer, "run1:silence:0").ends_at == extended.ends_at
    assert silence(silencer, "run2:silence:0").ends_at == extended.ends_at
    assert silencer.active()[0].ends_at == extended.ends_at


def test_expire_ends_a_silence_now_and_keeps_it_on_record(
    silencer: EmbeddedSilencer, path: Path, clock: ManualClock
) -> None:
    made = silence(silencer, "run1:silence:0")
    clock.advance(timedelta(minutes=20))
    done = silencer.expire(made.id)
    assert (done.id, done.state, done.ends_at) == (made.id, "expired", clock.now())
    assert done.starts_at == made.starts_at and done.matchers == made.matchers
    assert silencer.active() == [] and made.id in path.read_text()
    clock.advance(timedelta(minutes=20))
    assert silencer.expire(made.id).ends_at == done.ends_at  # expiring twice moves nothing


def test_expiring_a_silence_that_already_ran_out_keeps_its_real_end(
    silencer: EmbeddedSilencer, clock: ManualClock
) -> None:
    made = silence(silencer, "run1:silence:0", duration_s=MIN_S)
    clock.advance(timedelta(hours=1))
    assert silencer.expire(made.id).ends_at == made.ends_at
