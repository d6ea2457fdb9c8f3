"""Pure redaction of secret-looking values before anything is recorded or logged."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

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


def fingerprint(secret: str) -> str:
    """The only trace of a secret we keep: a short sha256 prefix."""
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()[:12]


def _mask(kind: str, secret: str) -> str:
    return f"[REDACTED:{kind}:sha256:{fingerprint(secret)}]"


def redact_text(text: str) -> str:
    """Replace secret-looking substrings of a string."""
    if len(text) < 16:
        return text
    for kind, pattern in SECRET_PATTERNS:
        text = pattern.sub(_masker(kind), text)
    return text


def _masker(kind: str) -> Callable[[re.Match[str]], str]:
    return lambda match: _mask(kind, match.group(0))


def is_secret_key(key: str) -> bool:
    """True for field names that hold secrets by convention (password, token, ...)."""
    return bool(_SECRET_KEY.search(key))


def redact(value: Any, *, key: str = "") -> Any:
    """Return a copy of a JSON-like value with secrets masked, by field name and by pattern."""
    if (
        key
        and is_secret_key(key)
        and value not in (None, "", [], {})
        and not isinstance(value, (bool, int, float, dict, list))
    ):
        return _mask("field", str(value))
    if isinstance(value, dict):
        return {str(k): redact(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, key=key) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
