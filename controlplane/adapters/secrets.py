"""SecretStore: where the plane keeps (and rotates, revokes) secrets; values never in errors.

The embedded default encrypts values with Fernet under a key in the state folder (mode 0600);
AWS Secrets Manager (secrets_aws.py) and GCP Secret Manager (secrets_gcp.py) sit behind the same
Protocol, and the contract tests run one set of behaviours against all three.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets as pysecrets
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.fernet import Fernet, InvalidToken

from controlplane.errors import NotFound, Unavailable


@dataclass(frozen=True)
class SecretVersion:
    """Metadata of one version: never the value."""

    name: str
    version: int
    created_at: datetime
    fingerprint: str  # first 12 hex of sha256 of the value
    state: str  # active | disabled | revoked (| destroyed: GCP, the value is gone)


class SecretStore(Protocol):
    """Keeps secrets; rotate and revoke are idempotent by key."""

    def put(self, name: str, value: str) -> SecretVersion: ...

    def current(self, name: str) -> SecretVersion: ...

    def rotate(
        self, name: str, new_value: str | None = None, *, idempotency_key: str
    ) -> SecretVersion: ...

    def revoke(self, name: str, *, idempotency_key: str) -> SecretVersion: ...

    def versions(self, name: str) -> list[SecretVersion]: ...


def fingerprint(value: str) -> str:
    """The first 12 hex of the value's sha256: what metadata, logs and audit may show."""
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def fresh_value() -> str:
    """A new random value for a rotation that was given none (256 bits, URL-safe)."""
    return pysecrets.token_urlsafe(32)


class LocalSecretStore:
    """Fernet-encrypted JSON in a folder, guarded across threads and processes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._fernet: Fernet | None = None
        self._key_checked = False

    def _key(self) -> Fernet:
        if self._fernet is None:
            path = self.folder / "secret.key"
            if not path.exists():
                if (self.folder / "secrets.json").exists():  # a new key would orphan every value
                    raise Unavailable(f"{path} is missing but secrets.json is there; restore it")
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(Fernet.generate_key())
            if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise Unavailable(f"{path} is readable by others; chmod 600 it")
            try:
                self._fernet = Fernet(path.read_bytes())
            except ValueError:
                raise Unavailable(f"{path} is not a Fernet key; restore it") from None
        return self._fernet

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.folder / ".lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                fernet = self._key()  # under the file lock: two processes never make two keys
                store = self.folder / "secrets.json"
                data = self._read(store)
                self._check_key(fernet, data)
                yield data
                tmp = store.with_suffix(".tmp")
                tmp.write_text(json.dumps(data))
                os.replace(tmp, store)

    def _read(self, store: Path) -> dict[str, Any]:
        if not store.exists():
            return {"secrets": {}, "keys": {}}
        try:
            data = json.loads(store.read_text())
        except ValueError:
            data = None
        if not isinstance(data, dict) or not {"secrets", "keys"} <= data.keys():
            raise Unavailable(f"{store} is not a secret store file; restore it from a backup")
        return data

    def _check_key(self, fernet: Fernet, data: dict[str, Any]) -> None:
        """Refuse a key that does not open what is stored, before anything is written with it."""
        if self._key_checked:
            return
        token = next((rows[-1]["value"] for rows in data["secrets"].values() if rows), None)
        if token is not None:
            try:
                fernet.decrypt(token.encode())
            except InvalidToken:
                key = self.folder / "secret.key"
                raise Unavailable(f"{key} does not open the stored secrets; restore it") from None
        self._key_checked = True

    def _versions(self, data: dict[str, Any], name: str) -> list[dict[str, Any]]:
        if name not in data["secrets"]:
            raise NotFound(f"no secret {name!r}")
        return list(data["secrets"][name])

    def put(self, name: str, value: str) -> SecretVersion:
        """Store a new version and disable the previous one."""
        with self._locked() as data:
            return self._add(data, name, value)

    def _add(self, data: dict[str, Any], name: str, value: str) -> SecretVersion:
        rows = data["secrets"].setdefault(name, [])
        for row in rows:
            if row["state"] == "active":
                row["state"] = "disabled"
        row = {"version": len(rows) + 1, "created_at": datetime.now(UTC).isoformat(),
               "fingerprint": fingerprint(value), "state": "active",
               "value": self._key().encrypt(value.encode()).decode()}  # fmt: skip
        rows.append(row)
        return _meta(name, row)

    def current(self, name: str) -> SecretVersion:
        """The newest version's metadata."""
        with self._locked() as data:
            return _meta(name, self._versions(data, name)[-1])

    def reveal(self, name: str) -> str:
        """The newest value (consumers only)."""
        with self._locked() as data:
            token = self._versions(data, name)[-1]["value"]
        try:
            return self._key().decrypt(token.encode()).decode()
        except InvalidToken:
            key = self.folder / "secret.key"
            raise Unavailable(f"secret {name!r} does not decrypt with {key}: not its key") from None

    def rotate(
        self, name: str, new_value: str | None = None, *, idempotency_key: str
    ) -> SecretVersion:
        """A new version in place of the current one (once per key)."""
        with self._locked() as data:
            done = data["keys"].get(idempotency_key)
            if done is not None:
                return _meta(name, self._versions(data, name)[done - 1])
            self._versions(data, name)
            made = self._add(data, name, new_value or fresh_value())
            data["keys"][idempotency_key] = made.version
            return made

    def revoke(self, name: str, *, idempotency_key: str) -> SecretVersion:
        """Mark the current version revoked (once per key)."""
        with self._locked() as data:
            rows = self._versions(data, name)
            done = data["keys"].get(idempotency_key)
            if done is not None:  # the version this key revoked, even if a newer one came since
                return _meta(name, rows[done - 1])
            rows[-1]["state"] = "revoked"
            data["keys"][idempotency_key] = rows[-1]["version"]
            return _meta(name, rows[-1])

    def versions(self, name: str) -> list[SecretVersion]:
        """Every version's metadata, oldest first."""
        with self._locked() as data:
            return [_meta(name, r) for r in self._versions(data, name)]


def _meta(name: str, row: dict[str, Any]) -> SecretVersion:
    return SecretVersion(name, row["version"], datetime.fromisoformat(row["created_at"]),
                         row["fingerprint"], row["state"])  # fmt: skip
