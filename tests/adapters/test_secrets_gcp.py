"""GcpSecretStore against a local fake of Secret Manager's REST API: what only GCP can get wrong.
An add whose answer is lost is not made twice, revoke disables (the value stays, an operator can
enable it again), checksums both ways, pages, the annotation records (merged under the etag,
pruned), retries only where resending is safe, and GCP's errors as the plane's."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import secretmanager
from pytest_httpserver import HTTPServer

from controlplane.adapters import gcp_records
from controlplane.adapters.checksums import crc32c
from controlplane.adapters.gcp_records import record_key
from controlplane.adapters.secrets import fingerprint
from controlplane.adapters.secrets_gcp import GcpSecretStore
from controlplane.errors import AdapterError, AdapterUnavailable, Conflict, InvalidSpec
from tests.adapters.fake_gcp_secrets import FakeSecret, FakeSecretManager

PROJECT = "acme-prod"


def value() -> str:
    return "pw-" + secrets.token_urlsafe(24)


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeSecretManager:
    return FakeSecretManager(httpserver, project=PROJECT)


def connect(fake: FakeSecretManager, **options: float) -> GcpSecretStore:
    settings = {"timeout_s": 2.0, "retry_s": 0.3} | options
    return GcpSecretStore.connect(PROJECT, endpoint=fake.endpoint,
                                  credentials=AnonymousCredentials(), **settings)  # fmt: skip


@pytest.fixture
def store(fake: FakeSecretManager) -> GcpSecretStore:
    return connect(fake)


def raw(fake: FakeSecretManager) -> secretmanager.SecretManagerServiceClient:
    """The plain client, as an operator would use it."""
    return secretmanager.SecretManagerServiceClient(
        transport="rest", credentials=AnonymousCredentials(),
        client_options={"api_endpoint": fake.endpoint},
    )  # fmt: skip


def test_crc32c_is_castagnolis() -> None:
    assert crc32c(b"123456789") == 0xE3069283 and crc32c(b"") == 0


def test_a_rotation_writes_its_intent_before_adding_and_disables_the_old_version_after(
    store: GcpSecretStore, fake: FakeSecretManager
) -> None:
    store.put("db", value())
    fake.calls.clear()
    new = value()
    made = store.rotate("db", new, idempotency_key="run1:rotate:0")
    writes = [
        c for c in fake.calls if c in ("UpdateSecret", "AddSecretVersion", "DisableSecretVersion")
    ]
    assert writes == ["UpdateSecret", "AddSecretVersion", "UpdateSecret", "DisableSecretVersion"]
    held = fake.secrets["db"]
    assert [v.state for v in held.versions] == ["DISABLED", "ENABLED"]
    assert held.versions[1].checksum_given and held.versions[1].data == new.encode()
    assert held.annotations[record_key("db", "run1:rotate:0")] == "2"
    assert held.annotations["cp-v-2"] == fingerprint(new) == made.fingerprint


def test_an_add_whose_answer_was_lost_is_adopted_by_the_retry_not_made_twice(
    store: GcpSecretStore, fake: FakeSecretManager
) -> None:
    store.put("db", value())
    new = value()
    fake.lose_next.add("AddSecretVersion")
    with pytest.raises(AdapterUnavailable, match="add_secret_version"):
        store.rotate("db", new, idempotency_key="run1:rotate:0")
    assert fake.calls.count("AddSecretVersion") == 2  # the put's and this one: never resent
    again = connect(fake).rotate("db", idempotency_key="run1:rotate:0")  # no value: must adopt
    assert (again.version, again.fingerprint, again.state) == (2, fingerprint(new), "active")
    assert len(fake.secrets["db"].versions) == 2 and store.reveal("db") == new
    assert [v.state for v in fake.secrets["db"].versions] == ["DISABLED", "ENABLED"]


def test_revoke_disables_keeping_the_value_and_an_operator_can_enable_it_again(
    store: GcpSecretStore, fake: FakeSecretManager
) -> None:
    leaked = value()
    store.put("ci-token", leaked)
    revoked = store.revoke("ci-token", idempotency_key="r")
    held = fake.secrets["ci-token"].versions[0]
    assert (held.state, held.data) == ("DISABLED", leaked.encode())  # disabled, not destroyed
    assert revoked.state == "revoked" and store.current("ci-token") == revoked
    with pytest.raises(Conflict, match="no enabled version"):
        store.reveal("ci-token")
    raw(fake).enable_secret_version(name=f"projects/{PROJECT}/secrets/ci-token/versions/1")
    assert store.current("ci-token").state == "active" and store.reveal("ci-token") == leaked


def test_a_destroyed_version_is_reported_destroyed_with_its_recorded_fingerprint(
    store: GcpSecretStore, fake: FakeSecretManager
) -> None:
    first = store.put("db", value())
    store.rotate("db", idempotency_key="k")
    raw(fake).destroy_secret_version(name=f"projects/{PROJECT}/secrets/db/versions/1")
    listed = store.versions("db")
    assert (listed[0].state, listed[0].fingerprint) == ("destroyed", first.fingerprint)


def test_a_payload_damaged_on_the_way_is_refused_not_returned(
    store: GcpSecretStore, fake: FakeSecretManager
) -> None:
    store.put("db", value())
    fake.damaged = True
    with pytest.raises(AdapterError, match="arrived damaged"):
        store.reveal("db")


def test_versions_follow_every_page(store: GcpSecretStore, fake: FakeSecretManager) -> None:
    fake.page_cap = 2
    store.put("db", value())
    for n in range(4):
        store.rotate("db", idempotency_key=f"k{n}")
    assert [(v.version, v.state) for v in store.versions("db")] == [
        (1, "disabled"), (2, "disabled"), (3, "disabled"), (4, "disabled"), (5, "active"),
    ]  # fmt: skip


def test_records_are_pruned_so_the_annotations_stay_bounded_and_others_are_kept(
    store: GcpSecretStore, fake: FakeSecretManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gcp_records, "KEEP_VERSIONS", 3)
    store.put("db", value())
    fake.secrets["db"].annotations["owner"] = "team-payments"
    for n in range(7):
        store.rotate("db", idempotency_key=f"k{n}")
    notes = fake.secrets["db"].annotations
    assert sorted(k for k in notes if k.startswith("cp-v-")) == ["cp-v-6", "cp-v-7", "cp-v-8"]
    assert (
        len([k for k in notes if k.startswith("cp-k-")]) == 3 and notes["owner"] == "team-payments"
    )
    listed = store.versions("db")
    assert listed[0].fingerprint == "unknown" and listed[-1].fingerprint != "unknown"


def test_a_record_written_by_someone_else_meanwhile_is_merged_not_lost(
    store: GcpSecretStore, fake: FakeSecretManager
) -> None:
    store.put("db", value())

    def another_writer(secret: FakeSecret) -> None:
        secret.annotations["owner"] = "team-payments"

    fake.before_update = another_writer
    store.rotate("db", idempotency_key="k")
    notes = fake.secrets["db"].annotations
    assert notes["owner"] == "team-payments" and notes[record_key("db", "k")] == "2"


def test_unavailable_reads_are_retried_then_reported(
    store: GcpSecretStore, fake: FakeSecretManager
) -> None:
    store.put("db", value())
    fake.unavailable = True
    fake.calls.clear()
    with pytest.raises(AdapterUnavailable, match="'db'"):
        store.current("db")
    assert fake.calls.count("ListSecretVersions") >= 2  # resent within retry_s, then reported


def test_a_permission_refused_names_the_secret_and_the_reason(
    store: GcpSecretStore, fake: FakeSecretManager
) -> None:
    fake.denied.add("secretmanager.secrets.get")
    with pytest.raises(AdapterError, match="refused get_secret on secret 'db'") as err:
        store.rotate("db", idempotency_key="k")
    assert err.value.details["gcp_status"] == "PERMISSION_DENIED"
    assert "secretmanager.secrets.get" in err.value.details["gcp_message"]


def test_an_invalid_secret_id_is_refused_before_any_call(
    store: GcpSecretStore, fake: FakeSecretManager
) -> None:
    with pytest.raises(InvalidSpec, match="not a GCP secret id"):
        store.put("no/slashes", value())
    assert fake.calls == []


def test_connect_without_credentials_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(AdapterError, match="no GCP credentials"):
        GcpSecretStore.connect(PROJECT)
