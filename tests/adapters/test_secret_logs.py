"""The SDK log guard: inside `hidden(...)`, an SDK record carrying a value (in the forms SDKs
print it) keeps only what comes before it; outside, or in another thread, nothing changes."""

from __future__ import annotations

import base64
import json
import logging
import threading

import pytest

from controlplane.adapters.secret_logs import WITHHELD, hidden

GOOGLE_REST = "google.cloud.secretmanager_v1.services.secret_manager_service.transports.rest"
AWKWARD = 'pa"ss\\wörd-' + "x" * 8  # quotes, a backslash and a non-ASCII letter


@pytest.fixture
def caplog_debug(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def test_a_request_body_is_withheld_in_every_form_botocore_prints_it(
    caplog_debug: pytest.LogCaptureFixture,
) -> None:
    body = json.dumps({"SecretId": "db", "SecretString": AWKWARD}).encode()
    with hidden(AWKWARD):
        logging.getLogger("botocore.endpoint").debug("Making request with params: %r", body)
        logging.getLogger("botocore.parsers").debug("Response body:\n%r", AWKWARD.encode())
    first, second = (r.getMessage() for r in caplog_debug.records)
    assert first == f"Making request with params: {WITHHELD}"
    assert second == WITHHELD  # the value's repr leads the message: nothing before it is kept


def test_payloads_in_extra_fields_are_withheld(
    caplog_debug: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # google-api-core stops the "google" logger propagating once a client was made
    monkeypatch.setattr(logging.getLogger("google"), "propagate", True)
    encoded = base64.b64encode(AWKWARD.encode()).decode()
    with hidden(AWKWARD):
        logging.getLogger(GOOGLE_REST).debug(
            "Sending request", extra={"httpRequest": {"payload": {"data": encoded}}}
        )
    (record,) = caplog_debug.records
    assert record.getMessage() == "Sending request" and vars(record)["httpRequest"] == WITHHELD


def test_a_read_is_withheld_by_its_fields_though_its_value_is_not_known(
    caplog_debug: pytest.LogCaptureFixture,
) -> None:
    with hidden():
        logging.getLogger("botocore.parsers").debug("Response body:\n%r", b'{"SecretString": "?"}')
    assert caplog_debug.records[0].getMessage() == f"Response body: {WITHHELD}"


def test_outside_a_secret_call_or_in_another_thread_records_are_untouched(
    caplog_debug: pytest.LogCaptureFixture,
) -> None:
    sdk = logging.getLogger("botocore.endpoint")
    with hidden("not-a-real-secret"):
        other = threading.Thread(target=lambda: sdk.debug("SecretString: other thread"))
        other.start()
        other.join()
        logging.getLogger("controlplane.app").debug("plane's own: SecretString")
    sdk.debug("SecretString: after")
    assert [r.getMessage() for r in caplog_debug.records] == [
        "SecretString: other thread",
        "plane's own: SecretString",
        "SecretString: after",
    ]
