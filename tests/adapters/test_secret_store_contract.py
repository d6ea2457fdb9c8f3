"""One SecretStore contract for the local store, AWS (moto's server) and GCP (a local fake of its
REST API): versions, rotation and revocation once per key, and values that never reach
metadata, logs, reprs or errors; then what only the clouds can get wrong: the store down or
refusing the plane's credentials leaves the current secret as it was."""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

import pytest
from google.auth.credentials import AnonymousCredentials
from pytest_httpserver import HTTPServer

from controlplane.adapters.secret_logs import SDK_LOGGERS, WITHHELD
from controlplane.adapters.secrets import LocalSecretStore, fingerprint
from controlplane.adapters.secrets_aws import AwsSecretStore
from controlplane.adapters.secrets_gcp import GcpSecretStore
from controlplane.errors import AdapterError, AdapterUnavailable, ControlPlaneError, NotFound
from tests.adapters.fake_gcp_secrets import FakeSecretManager
from tests.adapters.moto_secrets import REGION, MotoAws


def value() -> str:
    """A fresh secret-looking value (never a real one)."""
    return "pw-" + secrets.token_urlsafe(24)


class World(Protocol):
    kind: str

    def store(self) -> Any:
        """A new store on the same backend, as a restarted plane would build it."""
        ...


class LocalWorld:
    kind = "local"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def store(self) -> LocalSecretStore:
        return LocalSecretStore(self.folder)


class AwsWorld:
    kind = "aws"

    def __init__(self, moto: MotoAws, monkeypatch: pytest.MonkeyPatch) -> None:
        self.moto = moto
        for key, setting in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                             "AWS_EC2_METADATA_DISABLED": "true"}.items():  # fmt: skip
            monkeypatch.setenv(key, setting)
        moto.reset()
        built = AwsSecretStore.connect(REGION, moto.url, timeout_s=2, max_attempts=2)
        self.client = built._client  # each store is new; the boto3 client (slow to build) is not

    def store(self) -> AwsSecretStore:
        return AwsSecretStore(self.client)

    def go_down(self) -> None:
        self.moto.stop()

    def come_back(self) -> None:
        self.moto.start()

    @contextmanager
    def refusing_writes(self) -> Iterator[AwsSecretStore]:
        """A store whose IAM identity may read secrets but write nothing."""
        reader = self.moto.user_allowed("secretsmanager:ListSecretVersionIds",
                                        "secretsmanager:GetSecretValue")  # fmt: skip
        with self.moto.enforcing_iam():
            yield AwsSecretStore(self.moto.client(**reader))


class GcpWorld:
    kind = "gcp"

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.fake = FakeSecretManager(server)

    def store(self) -> GcpSecretStore:
        return GcpSecretStore.connect("acme-prod", endpoint=self.fake.endpoint,
                                      credentials=AnonymousCredentials(),
                                      timeout_s=2, retry_s=0.3)  # fmt: skip

    def go_down(self) -> None:
        self.server.stop()

    def come_back(self) -> None:
        self.server.start()

    @contextmanager
    def refusing_writes(self) -> Iterator[GcpSecretStore]:
        """The plane's service account lost secretmanager.versions.add."""
        self.fake.denied.add("secretmanager.versions.add")
        try:
            yield self.store()
        finally:
            self.fake.denied.clear()


def _world(request: pytest.FixtureRequest, kind: str) -> World:
    if kind == "local":
        return LocalWorld(request.getfixturevalue("tmp_path") / "secrets")
    if kind == "aws":
        moto = request.getfixturevalue("moto_aws")
        return AwsWorld(moto, request.getfixturevalue("monkeypatch"))
    return GcpWorld(request.getfixturevalue("httpserver"))  # stopped and started by some tests


@pytest.fixture(params=["local", "aws", "gcp"])
def world(request: pytest.FixtureRequest) -> World:
    return _world(request, request.param)


@pytest.fixture(params=["aws", "gcp"])
def cloud(request: pytest.FixtureRequest) -> AwsWorld | GcpWorld:
    made = _world(request, request.param)
    assert isinstance(made, AwsWorld | GcpWorld)
    return made


def states(store: Any, name: str) -> list[tuple[int, str]]:
    return [(v.version, v.state) for v in store.versions(name)]


# --- the contract ------------------------------------------------------------------------------


def test_put_makes_an_active_version_known_by_its_fingerprint(world: World) -> None:
    store, secret = world.store(), value()
    made = store.put("db-password", secret)
    assert (made.name, made.version, made.state) == ("db-password", 1, "active")
    assert made.fingerprint == fingerprint(secret)
    assert store.current("db-password") == made and store.reveal("db-password") == secret


def test_rotate_keeps_the_old_version_disabled_and_the_new_one_active(world: World) -> None:
    store, new = world.store(), value()
    store.put("api-key", value())
    made = store.rotate("api-key", new, idempotency_key="run1:rotate:0")
    assert (made.version, made.state, made.fingerprint) == (2, "active", fingerprint(new))
    assert states(store, "api-key") == [(1, "disabled"), (2, "active")]
    assert store.current("api-key") == made and store.reveal("api-key") == new


def test_rotate_without_a_value_makes_a_fresh_random_one(world: World) -> None:
    store, old = world.store(), value()
    store.put("api-key", old)
    first = store.rotate("api-key", idempotency_key="a")
    second = store.rotate("api-key", idempotency_key="b")
    assert len({v.fingerprint for v in store.versions("api-key")}) == 3
    assert first.fingerprint != second.fingerprint
    assert len(store.reveal("api-key")) >= 32 and store.reveal("api-key") != old


def test_the_same_key_rotates_once_even_from_a_restarted_plane(world: World) -> None:
    store = world.store()
    store.put("api-key", value())
    first = store.rotate("api-key", idempotency_key="run1:rotate:0")
    again = store.rotate("api-key", value(), idempotency_key="run1:rotate:0")
    restarted = world.store().rotate("api-key", idempotency_key="run1:rotate:0")
    assert first == again == restarted
    assert states(store, "api-key") == [(1, "disabled"), (2, "active")]


def test_revoke_marks_the_current_version_once_per_key(world: World) -> None:
    store = world.store()
    store.put("ci-token", value())
    revoked = store.revoke("ci-token", idempotency_key="run1:revoke:0")
    assert (revoked.version, revoked.state) == (1, "revoked")
    assert store.revoke("ci-token", idempotency_key="run1:revoke:0") == revoked
    assert store.current("ci-token") == revoked


def test_revoke_then_rotate_as_the_breach_playbook_does_and_replays_change_nothing(
    world: World,
) -> None:
    store, leaked = world.store(), value()
    store.put("ci-token", leaked)
    revoked = store.revoke("ci-token", idempotency_key="run1:revoke:0")
    rotated = store.rotate("ci-token", idempotency_key="run1:rotate:0")
    # a resumed run, on a restarted plane, asks again with the same keys: same answers, no effect
    again = world.store()
    assert again.revoke("ci-token", idempotency_key="run1:revoke:0") == revoked
    assert again.rotate("ci-token", idempotency_key="run1:rotate:0") == rotated
    assert states(again, "ci-token") == [(1, "revoked"), (2, "active")]
    assert again.current("ci-token") == rotated and again.reveal("ci-token") != leaked


def test_an_unknown_secret_is_not_found_and_not_created(world: World) -> None:
    store = world.store()
    store.put("known", value())
    for call in (
        lambda: store.current("nope"),
        lambda: store.versions("nope"),
        lambda: store.reveal("nope"),
        lambda: store.rotate("nope", idempotency_key="k1"),
        lambda: store.revoke("nope", idempotency_key="k2"),
    ):
        with pytest.raises(NotFound, match="no secret 'nope'"):
            call()
    store.put("nope", value())  # the keys of the refused calls were not spent
    assert store.rotate("nope", idempotency_key="k1").version == 2


def test_versions_are_listed_oldest_first_with_their_times(world: World) -> None:
    store = world.store()
    for n in range(4):
        store.put("db", value()) if n == 0 else store.rotate("db", idempotency_key=f"k{n}")
    listed = store.versions("db")
    assert [v.version for v in listed] == [1, 2, 3, 4]
    assert [v.state for v in listed] == ["disabled"] * 3 + ["active"]
    times = [v.created_at for v in listed]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)


def _forms(secret: str) -> list[str]:
    """The value as given, JSON-escaped, as Python prints JSON bytes, and base64."""
    raw, escaped = secret.encode(), json.dumps(secret)[1:-1]
    return [secret, escaped, repr(escaped.encode())[2:-1], repr(raw)[2:-1],
            base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]  # fmt: skip


def _debug_everything(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG)
    for name in SDK_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    # google-api-core stops the "google" logger propagating unless someone configured it
    monkeypatch.setattr(logging.getLogger("google"), "propagate", True)


def test_values_never_show_in_logs_reprs_or_errors_even_at_debug(
    world: World, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    _debug_everything(caplog, monkeypatch)
    store, rotated = world.store(), value()
    secret = 'pa"ss\\wörd-' + value()  # quotes, a backslash, non-ASCII: escaped on the wire
    shown: list[Any] = [store.put("db", secret), store.rotate("db", rotated, idempotency_key="k")]
    shown += [store.revoke("db", idempotency_key="r"), *store.versions("db"), store.current("db")]
    shown.append(store.rotate("db", idempotency_key="fresh"))
    fresh = store.reveal("db")  # the value the store made: it was never given to it
    with pytest.raises(NotFound) as err:
        store.rotate("other", secret, idempotency_key="x")
    failure: ControlPlaneError = err.value
    text = " ".join([repr(shown), str(shown), repr(store), str(failure), repr(failure),
                     failure.diagnostics(), repr(failure.details)])  # fmt: skip
    records = [f"{r.getMessage()} {vars(r)!r}" for r in caplog.records]
    for leaked in (secret, rotated, fresh):
        for form in _forms(leaked):
            assert form not in text
            assert not [r for r in records if form in r], f"a log record carries {form[:6]}..."
    if world.kind != "local":  # the SDKs did log at DEBUG, and the guard cut what they carried
        assert any(r.name.split(".")[0] in SDK_LOGGERS for r in caplog.records)
        assert any(WITHHELD in r for r in records)


# --- clouds: down or refusing ------------------------------------------------------------------


def test_a_rotation_while_the_store_is_down_fails_unavailable_and_changes_nothing(
    cloud: AwsWorld | GcpWorld,
) -> None:
    store, old, new = cloud.store(), value(), value()
    before = store.put("db", old)
    cloud.go_down()
    try:
        with pytest.raises(AdapterUnavailable, match="'db'") as err:
            store.rotate("db", new, idempotency_key="run1:rotate:0")
        assert new not in str(err.value) and old not in err.value.diagnostics()
    finally:
        cloud.come_back()
    assert store.current("db") == before and store.reveal("db") == old
    assert store.rotate("db", new, idempotency_key="run1:rotate:0").version == 2  # not spent


def test_a_refused_rotation_is_a_clear_refusal_and_changes_nothing(
    cloud: AwsWorld | GcpWorld,
) -> None:
    admin, old, new = cloud.store(), value(), value()
    before = admin.put("db", old)
    refusing: AbstractContextManager[Any] = cloud.refusing_writes()
    with refusing as store, pytest.raises(AdapterError, match=r"refused .* secret 'db'") as err:
        store.rotate("db", new, idempotency_key="run1:rotate:0")
    assert err.value.details["reason"] == "access_denied" and new not in err.value.diagnostics()
    assert admin.current("db") == before and admin.reveal("db") == old
    assert states(admin, "db") == [(1, "active")]
    made = admin.rotate("db", new, idempotency_key="run1:rotate:0")  # granted again: it goes
    assert (made.version, made.fingerprint) == (2, fingerprint(new))
