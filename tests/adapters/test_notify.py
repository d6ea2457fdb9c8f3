"""The log notifier: one notice and one log line per idempotency key, the latest ones kept."""

from __future__ import annotations

import logging
import threading

import pytest

from controlplane.adapters.notify import LogNotifier


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "controlplane.notify"]


def test_a_notice_is_logged_and_kept(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="controlplane.notify")
    notifier = LogNotifier()
    notice = notifier.send("security", "P1 secret breach", "SLA minutes", idempotency_key="r:n:0")
    assert (notice.channel, notice.subject, notice.body) == (
        "security",
        "P1 secret breach",
        "SLA minutes",
    )
    assert notifier.sent() == [notice]
    [line] = lines(caplog)
    assert "security" in line and "P1 secret breach" in line


def test_the_same_key_notifies_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="controlplane.notify")
    notifier = LogNotifier()
    first = notifier.send("platform", "rolled back", "", idempotency_key="run1:notify:0")
    again = notifier.send("platform", "rolled back (retry)", "", idempotency_key="run1:notify:0")
    other = notifier.send("platform", "rolled back", "", idempotency_key="run2:notify:0")
    assert again == first and other.id != first.id
    assert notifier.sent() == [first, other] and len(lines(caplog)) == 2


def test_racing_retries_of_one_key_notify_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="controlplane.notify")
    notifier = LogNotifier()
    got: list[str] = []
    start = threading.Barrier(8)

    def send() -> None:
        start.wait()
        got.append(notifier.send("platform", "s", "b", idempotency_key="k").id)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(got)) == 1 and len(notifier.sent()) == 1 and len(lines(caplog)) == 1


def test_only_the_latest_notices_are_kept_oldest_first() -> None:
    notifier = LogNotifier(keep=3)
    sent = [notifier.send("c", f"s{i}", "", idempotency_key=f"k{i}") for i in range(5)]
    assert notifier.sent() == sent[2:]
    assert notifier.send("c", "s4 again", "", idempotency_key="k4") == sent[4]
