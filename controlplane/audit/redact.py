"""Pure redaction of secret-looking values before anything is recorded or logged."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator

_SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|private[_-]?key|credential|authorization"
    r"|session[_-]?id|cookie)",
    re.IGNORECASE,
)
SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "private_key",
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)",
            re.DOTALL,
        ),
    ),
    ("aws_access_key", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("github_token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,})")),
    ("controlplane_token", re.compile(r"\bcpt_[A-Za-z0-9_-]{20,}")),
    ("slack_token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("bearer", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{16,}")),
    (
        "aws_secret_key",
        re.compile(r"(?i)(aws_secret_access_key\s*[=:]\s*)[A-Za-z0-9/+=]{40}"),
    ),
)


# Every pattern above contains one of these markers (lower-cased); most strings hold none, and
# plain substring tests are far cheaper than running the patterns.
_MARKERS = (
    "private key", "akia", "asia", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "cpt_",
    "xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-", "bearer", "aws_secret_access_key",
)  # fmt: skip


# Every secret-looking field name contains one of these; text without them needs no field walk.
_KEY_WORDS = (
    "pass", "secret", "token", "api", "private", "credential", "authorization", "session",
    "cookie",
)  # fmt: skip


def _has_marker(text: str) -> bool:
    lower = text.lower()
    return any(marker in lower for marker in _MARKERS)


def _may_have_secret_key(text: str) -> bool:
    lower = text.lower()
    return any(word in lower for word in _KEY_WORDS)


def fingerprint(secret: str) -> str:
    """The only trace of a secret we keep: a short sha256 prefix."""
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()[:12]


def _mask(kind: str, secret: str) -> str:
    return f"[REDACTED:{kind}:sha256:{fingerprint(secret)}]"


def redact_text(text: str) -> str:
    """Replace secret-looking substrings of a string."""
    if len(text) < 16 or not _has_marker(text):
        return text
    for kind, pattern in SECRET_PATTERNS:
        text = pattern.sub(_masker(kind), text)
    return text


def _masker(kind: str) -> Callable[[re.Match[str]], str]:
    return lambda match: _mask(kind, match.group(0))


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """True for field names that hold secrets by convention (password, token, ...)."""
    return bool(_SECRET_KEY.search(key))


def redact(value: Any, *, key: str = "") -> Any:
    """Return a copy of a JSON-like value with secrets masked, by field name and by pattern."""
    if isinstance(value, dict):
        return {str(k): redact(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, key=key) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if key and is_secret_key(key) and value != "":
        return _mask("field", str(value))
    return redact_text(value) if isinstance(value, str) else value


def sanitize(value: Any) -> Any:
    """Redact, then normalize to plain JSON types (what gets hashed is what the database returns).

    Fast path: one scan of the serialized text and of the field names; the value-by-value walk
    only runs when the text holds a secret marker or a secret-looking field name.
    """
    try:
        text = orjson.dumps(value, default=str)
    except TypeError:  # e.g. an integer beyond 64 bits: keep it, as text
        text = json.dumps(value, default=str).encode()
        data = json.loads(text, parse_int=_int_or_text)
    else:
        data = orjson.loads(text)
    marker, key_word = _scan_cached(text) if len(text) <= 4096 else _scan(text)
    if marker or (key_word and _any_secret_key(data)):
        return redact(data)
    return data


def _scan(text: bytes) -> tuple[bool, bool]:
    """(has a secret marker, has a secret-looking word) in serialized JSON."""
    decoded = text.decode()
    return _has_marker(decoded), _may_have_secret_key(decoded)


# Small payloads repeat (the signal list of every decision): remember their scan, at most ~4 MiB.
_scan_cached = functools.lru_cache(maxsize=1024)(_scan)


def _int_or_text(digits: str) -> int | str:
    number = int(digits)
    return number if -(2**63) <= number < 2**64 else digits


def _any_secret_key(data: Any) -> bool:
    """True when any dict anywhere in the value has a secret-looking field name."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if any(is_secret_key(k) for k in item):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


# Input fields of free text and free JSON: secrets are masked on the way in, before anything is
# stored, hashed, echoed or logged (so no response, record or export can show one).
FreeText = Annotated[str, AfterValidator(redact_text)]
FreeJson = Annotated[dict[str, Any], AfterValidator(sanitize)]


class RedactingFilter:
    """A logging filter that masks secrets in every line (access logs quote paths and queries)."""

    def filter(self, record: Any) -> bool:
        """Rewrite the record's message with secrets masked; never drop a line."""
        message = record.getMessage()
        masked = redact_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
