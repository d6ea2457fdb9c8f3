"""Signed security audits: CI signs the audit it produced; the plane trusts only keys it knows.

The signature is ed25519 over a domain-separated canonical JSON of the audit without its
`signature` field, so no field of a signed audit can be edited without breaking it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Collection
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from controlplane.handoff.models import AuditSignature, SecurityAuditResult

_DOMAIN = b"controlplane-security-audit:v1:"


def audit_message(audit: SecurityAuditResult) -> bytes:
    """The bytes a signature covers: every field but the signature, canonical JSON."""
    body = audit.model_dump(mode="json", exclude={"signature"})
    return _DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def public_key_of(key: Ed25519PrivateKey) -> str:
    """The base64 raw public key, as CONTROLPLANE_TRUSTED_CI_KEYS lists it."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def sign_audit(audit: SecurityAuditResult, key: Ed25519PrivateKey) -> SecurityAuditResult:
    """The same audit carrying CI's signature (what a release pipeline sends)."""
    signature = base64.b64encode(key.sign(audit_message(audit))).decode()
    return audit.model_copy(
        update={"signature": AuditSignature(key=public_key_of(key), value=signature)}
    )


@dataclass(frozen=True)
class Verdict:
    """Whether an audit's signature is by a trusted key, and why not."""

    trusted: bool
    reason: str


def verify_audit(audit: SecurityAuditResult, trusted_keys: Collection[str]) -> Verdict:
    """Check the signature against the configured CI keys; unsigned or unknown: not trusted."""
    sig = audit.signature
    if sig is None:
        return Verdict(False, "the security audit is not signed by a CI key the plane trusts")
    if sig.key not in trusted_keys:
        return Verdict(
            False, f"the security audit is signed by an unknown key {sig.key[:12]}... (not in "
            "CONTROLPLANE_TRUSTED_CI_KEYS)"
        )  # fmt: skip
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(sig.key))
        public.verify(base64.b64decode(sig.value), audit_message(audit))
    except (InvalidSignature, ValueError):
        return Verdict(
            False, "the security audit's signature does not verify (edited after signing?)"
        )
    return Verdict(True, f"security audit signed by trusted CI key {sig.key[:12]}...")
