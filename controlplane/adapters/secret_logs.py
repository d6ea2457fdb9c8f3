"""Keep secret values out of the cloud SDKs' logs.

At DEBUG, botocore logs every request's parameters and every response's body, and
google-api-core logs request payloads (base64, in the record's `extra` fields): with debug
logging on, a rotation would write the new value, and a read the current one, to the log. The
cloud secret stores make every call inside `hidden(...)`. While it lasts, a record that an SDK
logger emits *in that thread* and that carries a value it was given (plain, JSON- or
repr-escaped, base64) or a field that holds one (SecretString, SecretBinary, a payload) keeps
only what comes before it; a read's value is not known in advance, so its fields are what give
it away. Only SDK loggers are filtered: the plane's own code never logs a value.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SDK_LOGGERS = ("botocore", "boto3", "urllib3", "requests", "google", "grpc")
# Loggers that write bodies; made here so a module imported later finds the filter on them.
_EMITTERS = (
    "botocore.endpoint",
    "botocore.parsers",
    "botocore.hooks",
    "botocore.retryhandler",
    "botocore.retries.standard",
    "urllib3.connectionpool",
    "google.cloud.secretmanager_v1.services.secret_manager_service.client",
    "google.cloud.secretmanager_v1.services.secret_manager_service.transports.rest",
)
_FIELDS = ("SecretString", "SecretBinary", "payload", '"data"', "'data'")
WITHHELD = "[withheld by the secret store: it carries a secret value]"
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}

_local = threading.local()
_lock = threading.Lock()
_seen = 0  # size of the logger registry at the last scan


def _forms(value: str) -> set[str]:
    """The ways an SDK may print `value`: as is, JSON-escaped, repr-escaped, base64."""
    found = {value}
    for text in (value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]):
        found |= {text, repr(text.encode())[2:-1], text.replace("\\", "\\\\")}
    raw = value.encode()
    found |= {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    return {form for form in found if form}


def _carries(text: str, forms: frozenset[str]) -> bool:
    return any(form in text for form in forms) or any(field in text for field in _FIELDS)


class _Withhold(logging.Filter):
    """Cut what a secret call's records carry; records of other threads pass untouched."""

    def filter(self, record: logging.LogRecord) -> bool:
        forms: frozenset[str] | None = getattr(_local, "forms", None)
        if forms is None:
            return True
        text = record.getMessage()
        if _carries(text, forms):
            head = re.sub(r"\s*b?['\"]?$", "", text.split("{", 1)[0]) if "{" in text else ""
            keep = head if head and not _carries(head, forms) else ""
            record.msg, record.args = f"{keep} {WITHHELD}".lstrip(), None
        for key, extra in list(vars(record).items()):
            if key not in _STANDARD and _carries(repr(extra), forms):
                setattr(record, key, WITHHELD)
        return True


_FILTER = _Withhold()


def _guard() -> None:
    """Put the filter on every SDK logger (once each; rescanned when new loggers appear)."""
    global _seen
    registry: dict[str, Any] = logging.Logger.manager.loggerDict
    if len(registry) == _seen:
        return
    with _lock:
        for name in _EMITTERS:
            logging.getLogger(name)
        for name in list(registry):
            logger = registry[name]
            sdk = isinstance(logger, logging.Logger) and name.split(".")[0] in SDK_LOGGERS
            if sdk and _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
        _seen = len(registry)


@contextmanager
def hidden(*values: str | None) -> Iterator[None]:
    """Make SDK calls in this block without their records carrying `values` or any read value."""
    _guard()
    before: frozenset[str] | None = getattr(_local, "forms", None)
    known = set(before or ())
    for value in values:
        if value:
            known |= _forms(value)
    _local.forms = frozenset(known)
    try:
        yield
    finally:
        _local.forms = before
