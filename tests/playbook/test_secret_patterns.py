"""Classifying a leaked credential: each pattern knows its secret (fakes made here, never real
ones), near-misses are not taken for it, and nothing but a sha256 prefix of a sample is kept."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import string
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from controlplane.playbook.secret_patterns import SEVERITY, classify, fingerprint

REPO = Path(__file__).resolve().parents[2]
UPPER_DIGITS = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits


def pick(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def aws_key() -> str:
    return "AKIA" + pick(UPPER_DIGITS, 16)


def github_classic() -> str:
    return "ghp_" + pick(ALNUM, 36)


def github_fine_grained() -> str:
    return "github_pat_" + pick(ALNUM, 22) + "_" + pick(ALNUM, 59)


def pem(
    fmt: serialization.PrivateFormat,
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | None = None,
) -> str:
    made = key or ec.generate_private_key(ec.SECP256R1())
    return made.private_bytes(
        serialization.Encoding.PEM, fmt, serialization.NoEncryption()
    ).decode()


def public_pem() -> str:
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def pkcs8_key() -> str:
    return pem(serialization.PrivateFormat.PKCS8)


def ec_key() -> str:
    return pem(serialization.PrivateFormat.TraditionalOpenSSL)


def openssh_key() -> str:
    return pem(serialization.PrivateFormat.OpenSSH, ed25519.Ed25519PrivateKey.generate())


def pgp_key() -> str:
    body = base64.b64encode(secrets.token_bytes(300)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join(["-----BEGIN PGP PRIVATE KEY BLOCK-----", "", *lines, "=AbCd",
                      "-----END PGP PRIVATE KEY BLOCK-----"])  # fmt: skip


def service_account() -> str:
    project = "demo-" + pick(string.digits, 6)
    return json.dumps(
        {"type": "service_account", "project_id": project, "private_key_id": secrets.token_hex(20),
         "private_key": pkcs8_key(), "client_email": f"ops@{project}.iam.gserviceaccount.com",
         "client_id": pick(string.digits, 21), "token_uri": "https://oauth2.googleapis.com/token"},
        indent=2,
    )  # fmt: skip


def slack_webhook() -> str:
    team, hook, token = pick(UPPER_DIGITS, 8), pick(UPPER_DIGITS, 10), pick(ALNUM, 24)
    return f"https://hooks.slack.com/services/T{team}/B{hook}/{token}"


def discord_webhook() -> str:
    return f"https://discord.com/api/webhooks/{pick(string.digits, 18)}/{pick(ALNUM + '-_', 68)}"


MAKERS: list[tuple[str, Callable[[], str]]] = [
    ("aws_access_key", aws_key),
    ("aws_access_key", lambda: f"[default]\naws_access_key_id = {aws_key()}\nregion = eu-west-1"),
    ("github_pat", github_classic),
    ("github_pat", lambda: f"GITHUB_TOKEN={github_fine_grained()}"),
    ("private_key", pkcs8_key),
    ("private_key", ec_key),
    ("private_key", openssh_key),
    ("private_key", pgp_key),
    ("gcp_service_account", service_account),
    ("webhook_url", slack_webhook),
    ("webhook_url", lambda: f'curl -X POST -d "{{}}" {discord_webhook()}'),
]


@pytest.mark.parametrize(("kind", "make"), MAKERS)
def test_each_pattern_knows_its_secret(kind: str, make: Callable[[], str]) -> None:
    sample = make()
    found = classify(None, sample)
    assert (found.kind, found.matched_by) == (kind, "pattern")
    assert found.severity == SEVERITY[kind]
    assert found.fingerprint == "sha256:" + hashlib.sha256(sample.encode()).hexdigest()[:12]


LOOKALIKES: list[tuple[str, str, Callable[[], str]]] = [
    ("aws_access_key", "one-char-short", lambda: "AKIA" + pick(UPPER_DIGITS, 15)),
    ("aws_access_key", "lowercase", lambda: "akia" + pick(string.ascii_lowercase, 16)),
    ("aws_access_key", "masked-in-a-log", lambda: "aws_access_key_id = AKIA" + "*" * 16),
    ("github_pat", "classic-one-short", lambda: "ghp_" + pick(ALNUM, 35)),
    ("github_pat", "fine-grained-truncated", lambda: "github_pat_" + pick(ALNUM, 40)),
    ("github_pat", "prefix-in-prose", lambda: "tokens look like ghp_ followed by 36 characters"),
    ("private_key", "public-key-pem", public_pem),
    ("private_key", "pgp-public-block", lambda: "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQIN"),
    ("private_key", "prose", lambda: "the private key lives in vault under ops/ml"),
    ("gcp_service_account", "no-key", lambda: json.dumps({"type": "service_account",
                                                          "client_email": "a@b.c"})),
    ("gcp_service_account", "user-credentials", lambda: json.dumps(
        {"type": "authorized_user", "client_id": "x", "refresh_token": "y"})),
    ("webhook_url", "slack-root", lambda: "https://hooks.slack.com/"),
    ("webhook_url", "plain-api-url", lambda: "https://status.example.com/api/v1/incidents/42"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "make"), [pytest.param(k, m, id=f"{k}-{name}") for k, name, m in LOOKALIKES]
)
def test_a_near_miss_is_not_taken_for_that_secret(kind: str, make: Callable[[], str]) -> None:
    try:
        found = classify(None, make()).kind
    except ValueError as exc:
        assert "no known credential pattern" in str(exc)
        return
    assert found != kind


def test_a_service_account_file_is_a_service_account_not_just_a_private_key() -> None:
    sample = service_account()
    assert "-----BEGIN PRIVATE KEY-----" in sample  # what the private-key pattern also matches
    assert classify(None, sample).kind == "gcp_service_account"


def test_the_classification_keeps_only_a_fingerprint_of_the_sample() -> None:
    sample = aws_key()
    found = classify(None, sample)
    assert sample not in repr(found) and sample[4:] not in repr(found)
    assert classify("database_password", sample).fingerprint == fingerprint(sample)
    assert fingerprint(sample) != fingerprint(aws_key())


def test_a_given_kind_wins_over_the_pattern() -> None:
    found = classify("internal_api_key", aws_key())
    assert (found.kind, found.matched_by, found.severity) == ("internal_api_key", "kind", "P2")
    assert classify("webhook_url", None).fingerprint is None


def test_the_seed_severities_and_their_slas() -> None:
    by_level: dict[str, set[str]] = {}
    for kind in SEVERITY:
        by_level.setdefault(classify(kind, None).severity, set()).add(kind)
    assert by_level["P1"] == {"aws_access_key", "gcp_service_account", "github_pat",
                              "private_key", "signing_key"}  # fmt: skip
    assert by_level["P2"] == {"database_password", "internal_api_key"}
    assert by_level["P3"] == {"webhook_url"}
    assert classify("private_key", None).sla == "minutes"
    assert classify("webhook_url", None).sla == "24h"


def test_every_kind_the_breach_playbook_offers_classifies() -> None:
    doc = yaml.safe_load((REPO / "playbooks" / "secret-breach.yaml").read_text())
    choices = next(i["choices"] for i in doc["inputs"] if i["name"] == "kind")
    assert set(choices) == set(SEVERITY)
    for kind in choices:
        assert classify(kind, None).kind == kind


def test_an_unknown_kind_or_nothing_to_go_on_is_refused_without_the_sample() -> None:
    sample = "hunter2-" + secrets.token_hex(8)
    with pytest.raises(ValueError, match="unknown secret kind 'password'") as err:
        classify("password", sample)
    assert "database_password" in str(err.value) and sample not in str(err.value)
    with pytest.raises(ValueError, match="give the kind"):
        classify(None, None)
    with pytest.raises(ValueError, match="no known credential pattern") as err:
        classify(None, sample)
    assert sample not in str(err.value)
