"""AwsSecretStore against moto's server: what only Secrets Manager can get wrong. Staging labels
(AWSPENDING, then AWSCURRENT; no AWSPREVIOUS on a revoked version), version ids derived from the
idempotency key, versions written by others, and AWS's errors as the plane's (answered by a
local server in AWS's JSON shape where moto cannot: throttling, 5xx)."""

from __future__ import annotations

import json
import logging
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from controlplane.adapters.secrets import fingerprint
from controlplane.adapters.secrets_aws import (
    CURRENT,
    PENDING,
    PREVIOUS,
    REVOKED_LABEL,
    AwsSecretStore,
    key_tag,
    version_id,
)
from controlplane.errors import (
    AdapterError,
    AdapterUnavailable,
    Conflict,
    ControlPlaneError,
    InvalidSpec,
    NotFound,
)
from tests.adapters.moto_secrets import REGION, MotoAws


def value() -> str:
    return "pw-" + secrets.token_urlsafe(24)


@pytest.fixture
def moto(moto_aws: MotoAws, monkeypatch: pytest.MonkeyPatch) -> MotoAws:
    for key, setting in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                         "AWS_EC2_METADATA_DISABLED": "true"}.items():  # fmt: skip
        monkeypatch.setenv(key, setting)
    moto_aws.reset()
    return moto_aws


@pytest.fixture
def store(moto: MotoAws) -> AwsSecretStore:
    return AwsSecretStore.connect(REGION, moto.url, timeout_s=2, max_attempts=2)


def labels(moto: MotoAws, name: str) -> dict[str, set[str]]:
    """Each version's staging labels, as AWS itself lists them."""
    listed = moto.client().list_secret_version_ids(SecretId=name, IncludeDeprecated=True)
    return {v["VersionId"]: set(v.get("VersionStages", [])) for v in listed["Versions"]}


def test_rotation_ids_come_from_the_key_and_awscurrent_moves_onto_the_new_version(
    store: AwsSecretStore, moto: MotoAws
) -> None:
    old, new = value(), value()
    first = store.put("db", old)
    made = store.rotate("db", new, idempotency_key="run1:rotate:0")
    token = version_id(2, fingerprint(new), key_tag("db", "run1:rotate:0"))
    assert 32 <= len(token) <= 64
    seen = labels(moto, "db")
    assert seen[token] == {CURRENT}  # AWSPENDING was taken off once AWSCURRENT arrived
    assert [stages for vid, stages in seen.items() if vid != token] == [{PREVIOUS}]
    raw = moto.client().get_secret_value(SecretId="db", VersionStage=CURRENT)
    assert raw["VersionId"] == token and raw["SecretString"] == new
    assert (first.version, made.version) == (1, 2)


def test_a_rotation_cut_before_awscurrent_moves_leaves_readers_on_the_old_value_and_its_retry_finishes_it(  # noqa: E501
    store: AwsSecretStore, moto: MotoAws
) -> None:
    old, new = value(), value()
    before = store.put("db", old)
    writer = moto.user_allowed(
        "secretsmanager:ListSecretVersionIds",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
    )
    with moto.enforcing_iam(), pytest.raises(AdapterError, match="update_secret_version_stage"):
        AwsSecretStore(moto.client(**writer)).rotate("db", new, idempotency_key="k")
    pending = version_id(2, fingerprint(new), key_tag("db", "k"))
    assert labels(moto, "db")[pending] == {PENDING}
    assert store.current("db") == before and store.reveal("db") == old
    made = store.rotate("db", idempotency_key="k")  # no value this time: the pending one is used
    assert (made.version, made.state, made.fingerprint) == (2, "active", fingerprint(new))
    assert len(labels(moto, "db")) == 2 and store.reveal("db") == new
    assert labels(moto, "db")[pending] == {CURRENT}


def test_a_revoked_version_keeps_its_label_and_never_becomes_awsprevious(
    store: AwsSecretStore, moto: MotoAws
) -> None:
    leaked = value()
    store.put("ci-token", leaked)
    leaked_id = next(iter(labels(moto, "ci-token")))
    store.revoke("ci-token", idempotency_key="run1:revoke:0")
    assert labels(moto, "ci-token")[leaked_id] == {
        CURRENT, REVOKED_LABEL + key_tag("ci-token", "run1:revoke:0")
    }  # fmt: skip
    store.rotate("ci-token", idempotency_key="run1:rotate:0")
    # still labelled, so not deprecated: AWS keeps it, for the review and for an undo
    assert labels(moto, "ci-token")[leaked_id] == {
        REVOKED_LABEL + key_tag("ci-token", "run1:revoke:0")
    }
    with pytest.raises(Exception) as err:  # nothing falls back to the leaked value
        moto.client().get_secret_value(SecretId="ci-token", VersionStage=PREVIOUS)
    assert "ResourceNotFoundException" in repr(err.value)
    store.rotate("ci-token", idempotency_key="run1:rotate:1")  # an ordinary one after it
    assert labels(moto, "ci-token")[_id_of(moto, "ci-token", 2)] == {PREVIOUS}


def _id_of(moto: MotoAws, name: str, seq: int) -> str:
    return next(vid for vid in labels(moto, name) if vid.startswith(f"{seq:08d}-"))


def test_a_version_written_outside_the_plane_is_version_0_read_once_for_its_fingerprint(
    store: AwsSecretStore, moto: MotoAws
) -> None:
    legacy = value()
    moto.client().create_secret(Name="legacy", SecretString=legacy)  # as IaC or the console would
    current = store.current("legacy")
    assert (current.version, current.state, current.fingerprint) == (
        0,
        "active",
        fingerprint(legacy),
    )
    made = store.rotate("legacy", idempotency_key="k")
    assert made.version == 1
    assert [(v.version, v.state) for v in store.versions("legacy")] == [
        (0, "disabled"),
        (1, "active"),
    ]


def test_botocore_logs_values_at_debug_on_its_own_which_is_why_the_store_guards(
    moto: MotoAws, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = value()
    moto.client().create_secret(Name="raw", SecretString=secret)  # no store: no guard
    assert secret in caplog.text


def test_revoke_replays_answer_the_version_they_revoked(store: AwsSecretStore) -> None:
    store.put("db", value())
    revoked = store.revoke("db", idempotency_key="r")
    store.rotate("db", idempotency_key="k")
    assert store.revoke("db", idempotency_key="r") == revoked
    assert [v.state for v in store.versions("db")] == ["revoked", "active"]


# --- errors ------------------------------------------------------------------------------------


@pytest.fixture
def aws_answering(httpserver: HTTPServer) -> Iterator[Any]:
    """A store whose AWS answers each call with the given error, in AWS's JSON protocol."""

    def answer(status: int, code: str) -> AwsSecretStore:
        body = {"__type": code, "Message": f"{code} for this request"}
        httpserver.expect_request("/").respond_with_data(
            json.dumps(body), status, content_type="application/x-amz-json-1.1",
            headers={"x-amzn-RequestId": "8b1e6a4c-0000-4000-8000-000000000000"},
        )  # fmt: skip
        return AwsSecretStore.connect(REGION, httpserver.url_for("/"), max_attempts=1)

    yield answer


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (400, "ThrottlingException", AdapterUnavailable),
        (500, "InternalServiceError", AdapterUnavailable),
        (503, "ServiceUnavailable", AdapterUnavailable),
        (400, "AccessDeniedException", AdapterError),
        (400, "ResourceNotFoundException", NotFound),
        (400, "InvalidRequestException", Conflict),
        (400, "SomethingNewException", AdapterError),
    ],
)
def test_aws_errors_become_the_planes_naming_the_secret(
    aws_answering: Any, monkeypatch: pytest.MonkeyPatch, status: int, code: str,
    error: type[ControlPlaneError],
) -> None:  # fmt: skip
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    secret = value()
    with pytest.raises(error) as err:
        aws_answering(status, code).put("db", secret)
    assert type(err.value) is error and "'db'" in str(err.value)
    assert err.value.details["secret"] == "db" and secret not in err.value.diagnostics()
    if code == "AccessDeniedException":
        assert err.value.details["reason"] == "access_denied"


def test_an_endpoint_nobody_answers_is_unavailable_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    store = AwsSecretStore.connect(REGION, dead, timeout_s=1, max_attempts=1)
    with pytest.raises(AdapterUnavailable, match="did not answer list_secret_version_ids"):
        store.current("db")


def test_connect_needs_a_region_and_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(AdapterError, match="no AWS region"):
        AwsSecretStore.connect("")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "AWS_WEB_IDENTITY_TOKEN_FILE"):  # fmt: skip
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = AwsSecretStore.connect(REGION, "http://127.0.0.1:9")
    with pytest.raises(AdapterError, match="no AWS credentials"):
        store.current("db")


def test_a_name_aws_would_refuse_is_invalid_before_any_call(store: AwsSecretStore) -> None:
    with pytest.raises(InvalidSpec, match="not an AWS secret name"):
        store.put("no spaces allowed", value())


def test_the_plane_uses_aws_when_configured(moto: MotoAws, tmp_path: Path) -> None:
    """CONTROLPLANE_SECRET_STORE=aws: playbooks rotate in Secrets Manager, not the local file."""
    from controlplane.config import Settings
    from controlplane.playbook.wiring import secret_store_for

    settings = Settings(state_dir=tmp_path, secret_store="aws", aws_region=REGION,
                        aws_secrets_endpoint_url=moto.url)  # fmt: skip
    store = secret_store_for(settings)
    assert isinstance(store, AwsSecretStore)
    store.put("ci/deploy-key", "first-value-123")
    rotated = store.rotate("ci/deploy-key", idempotency_key="run:rotate:1")
    assert store.current("ci/deploy-key").fingerprint == rotated.fingerprint
    assert not (tmp_path / "secrets").exists()
    with pytest.raises(ValueError, match="CONTROLPLANE_AWS_REGION"):
        Settings(state_dir=tmp_path, secret_store="aws")
