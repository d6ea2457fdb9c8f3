"""Classify a leaked credential by kind or pattern (seed /secret-breach); pure, keeps no value.

Only a sha256 prefix of a sample ever leaves this module.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

SEVERITY = {
    "aws_access_key": "P1", "gcp_service_account": "P1", "github_pat": "P1",
    "private_key": "P1", "signing_key": "P1", "database_password": "P2",
    "internal_api_key": "P2", "webhook_url": "P3",
}  # fmt: skip
SLA = {"P1": "minutes", "P2": "1h", "P3": "24h"}
# First match wins: a service-account file holds a PEM private key, so it is tried before it.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("aws_access_key", re.compile(r"AKIA[0-9A-Z]{16}")),
    ("github_pat", re.compile(r"ghp_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82}")),
    ("gcp_service_account", re.compile(r'"type"\s*:\s*"service_account"[\s\S]*"private_key"')),
    ("private_key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----")),
    ("webhook_url", re.compile(r"https://hooks\.slack\.com/services/\S+|https?://\S*webhook\S*")),
)


@dataclass(frozen=True)
class Classification:
    """What leaked and how urgent it is; the fingerprint is the only trace of the value."""

    kind: str
    severity: str
    sla: str
    fingerprint: str | None
    matched_by: str


def fingerprint(sample: str) -> str:
    """sha256 prefix: enough to compare versions, useless to an attacker."""
    return "sha256:" + hashlib.sha256(sample.encode()).hexdigest()[:12]


def classify(kind: str | None, sample: str | None) -> Classification:
    """By the given kind, else by the sample's pattern; neither: ValueError."""
    if kind:
        if kind not in SEVERITY:
            raise ValueError(f"unknown secret kind {kind!r}; known: {', '.join(sorted(SEVERITY))}")
        level = SEVERITY[kind]
        return Classification(
            kind, level, SLA[level], fingerprint(sample) if sample else None, "kind"
        )
    if not sample:
        raise ValueError("give the kind of secret, or a sample to classify by pattern")
    for name, pattern in PATTERNS:
        if pattern.search(sample):
            level = SEVERITY[name]
            return Classification(name, level, SLA[level], fingerprint(sample), "pattern")
    raise ValueError("no known credential pattern in the sample; give its kind")
