"""The embedded secret store's own promises: values live only encrypted, never in metadata,
errors or logs; keys count once even from a new process; a damaged or foreign file is refused by
name and left as it was. Rotate, revoke and their replays are the SecretStore contract's
(tests/adapters/test_secret_store_contract.py), run against this store, AWS and GCP."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from controlplane.adapters.secrets import LocalSecretStore
from controlplane.errors import NotFound, Unavailable


def value() -> str:
    """A fresh secret-looking value (never a real one)."""
    return "pw-" + secrets.token_urlsafe(24)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "secrets"


@pytest.fixture
def store(folder: Path) -> LocalSecretStore:
    return LocalSecretStore(folder)


def files(folder: Path) -> dict[str, bytes]:
    """Every file the store keeps, by name (to show nothing changed)."""
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name != ".lock"}


def test_put_keeps_the_value_encrypted_and_only_its_fingerprint_in_the_clear(
    store: LocalSecretStore, folder: Path
) -> None:
    secret = value()
    made = store.put("db-password", secret)
    assert (made.name, made.version, made.state) == ("db-password", 1, "active")
    assert made.fingerprint == hashlib.sha256(secret.encode()).hexdigest()[:12]
    assert store.current("db-password") == made and store.reveal("db-password") == secret
    assert all(secret.encode() not in data for data in files(folder).values())
    assert (folder / "secret.key").stat().st_mode & 0o777 == 0o600


def test_the_same_key_rotates_once_even_in_a_new_process(
    store: LocalSecretStore, folder: Path
) -> None:
    store.put("api-key", value())
    first = store.rotate("api-key", idempotency_key="run1:rotate:0")
    again = store.rotate("api-key", idempotency_key="run1:rotate:0")
    restarted = LocalSecretStore(folder).rotate("api-key", idempotency_key="run1:rotate:0")
    assert first == again == restarted
    assert len(store.versions("api-key")) == 2


def test_values_never_show_in_metadata_errors_or_logs(
    store: LocalSecretStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret, rotated = value(), value()
    shown = [store.put("db", secret), store.rotate("db", rotated, idempotency_key="k")]
    shown += [store.revoke("db", idempotency_key="r"), *store.versions("db"), store.current("db")]
    text = " ".join([repr(shown), str(shown), repr(store), caplog.text])
    assert secret not in text and rotated not in text
    with pytest.raises(NotFound) as err:
        store.rotate("other", secret, idempotency_key="x")
    assert secret not in str(err.value) and secret not in repr(err.value)


def test_the_store_survives_a_restart(store: LocalSecretStore, folder: Path) -> None:
    secret = value()
    store.put("db", secret)
    again = LocalSecretStore(folder)
    assert again.reveal("db") == secret and again.versions("db") == store.versions("db")


def test_two_stores_on_one_folder_do_not_lose_each_others_versions(folder: Path) -> None:
    LocalSecretStore(folder).put("db", value())
    stores = [LocalSecretStore(folder) for _ in range(2)]  # as two processes would

    def rotate(index: int) -> None:
        for n in range(8):
            stores[index].rotate("db", idempotency_key=f"{index}:{n}")

    threads = [threading.Thread(target=rotate, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    versions = LocalSecretStore(folder).versions("db")
    assert [v.version for v in versions] == list(range(1, 18))
    assert [v.state for v in versions].count("active") == 1 and versions[-1].state == "active"


def test_a_key_readable_by_others_is_refused(store: LocalSecretStore, folder: Path) -> None:
    store.put("db", value())
    os.chmod(folder / "secret.key", 0o644)
    with pytest.raises(Unavailable, match="readable by others"):
        LocalSecretStore(folder).current("db")


def test_a_corrupted_store_file_is_refused_by_name_and_left_as_it_was(
    store: LocalSecretStore, folder: Path
) -> None:
    secret = value()
    store.put("db", secret)
    good = (folder / "secrets.json").read_bytes()
    for damage in (good[: len(good) // 2], b"", b"[]", b'{"secrets": {}}'):
        (folder / "secrets.json").write_bytes(damage)
        for call in (
            lambda: LocalSecretStore(folder).current("db"),
            lambda: LocalSecretStore(folder).put("db", value()),
        ):
            with pytest.raises(Unavailable, match=r"secrets\.json") as err:
                call()
            assert secret not in str(err.value)
        assert (folder / "secrets.json").read_bytes() == damage
    (folder / "secrets.json").write_bytes(good)
    assert LocalSecretStore(folder).reveal("db") == secret


def test_a_corrupted_key_file_is_refused_by_name_and_nothing_is_written(
    store: LocalSecretStore, folder: Path
) -> None:
    secret = value()
    store.put("db", secret)
    key = (folder / "secret.key").read_bytes()
    (folder / "secret.key").write_bytes(key[:20])
    before = files(folder)
    with pytest.raises(Unavailable, match=r"secret\.key"):
        LocalSecretStore(folder).rotate("db", idempotency_key="k")
    assert files(folder) == before
    (folder / "secret.key").write_bytes(key)
    assert LocalSecretStore(folder).reveal("db") == secret


def test_a_wrong_key_is_refused_before_anything_is_written_with_it(
    store: LocalSecretStore, folder: Path
) -> None:
    secret = value()
    store.put("db", secret)
    key = (folder / "secret.key").read_bytes()
    (folder / "secret.key").write_bytes(Fernet.generate_key())
    before = files(folder)
    wrong = LocalSecretStore(folder)
    for call in (
        lambda: wrong.reveal("db"),
        lambda: wrong.rotate("db", idempotency_key="k"),
        lambda: wrong.put("other", value()),
    ):
        with pytest.raises(Unavailable, match=r"secret\.key") as err:
            call()
        assert secret not in str(err.value)
    assert files(folder) == before
    (folder / "secret.key").write_bytes(key)
    right = LocalSecretStore(folder)
    assert right.reveal("db") == secret and len(right.versions("db")) == 1


def test_a_lost_key_is_not_replaced_by_a_new_one(store: LocalSecretStore, folder: Path) -> None:
    secret = value()
    store.put("db", secret)
    key = (folder / "secret.key").read_bytes()
    (folder / "secret.key").unlink()
    with pytest.raises(Unavailable, match=r"secret\.key is missing"):
        LocalSecretStore(folder).put("db", value())
    assert not (folder / "secret.key").exists()
    (folder / "secret.key").write_bytes(key)
    os.chmod(folder / "secret.key", 0o600)
    assert LocalSecretStore(folder).reveal("db") == secret
