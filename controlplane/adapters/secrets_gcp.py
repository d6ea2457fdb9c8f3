"""SecretStore on GCP Secret Manager (google-cloud-secret-manager over its REST transport).

Version numbers are GCP's own. Rotate adds a version, then disables the older enabled ones;
current is the newest enabled version or, when none is enabled, the newest (a revoked secret
answers with its revoked version, as the local store does).

Revoke disables, never destroys. A disabled version keeps its value: enable_secret_version
brings it back if the revocation was a mistake, and nothing serves it meanwhile (access is
refused). Destroy is final (a mistaken or replayed agent step could not be undone) and gains
nothing a disabled version does not already give.

GCP versions carry no metadata of ours and AddSecretVersion takes no request token, so what the
plane knows lives in the secret's annotations (gcp_records.py), written read-modify-write under
its etag: each version's fingerprint (so listings read no value; a disabled version cannot even
be read) and revoked mark, and per idempotency key the version it made or marked. A rotation
writes its intent (`pending:<newest>:<fingerprint>`) before adding: a retry that finds it reads
only the enabled versions newer than <newest>, adopts the one whose value has that
fingerprint, and adds anew only when there is none. So an add whose answer was lost is not
made twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from google.api_core import exceptions as gexc
from google.api_core.retry import Retry, if_exception_type
from google.auth import exceptions as auth_exc
from google.cloud import secretmanager

from controlplane.adapters import gcp_records as records
from controlplane.adapters.checksums import crc32c
from controlplane.adapters.secret_logs import hidden
from controlplane.adapters.secrets import SecretVersion, fingerprint, fresh_value
from controlplane.errors import (
    AdapterError,
    AdapterUnavailable,
    Conflict,
    ControlPlaneError,
    InvalidSpec,
    NotFound,
)

_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_RESEND = (gexc.ServiceUnavailable, gexc.InternalServerError, gexc.TooManyRequests,
           requests.ConnectionError)  # fmt: skip
_BUSY = frozenset({"UNAVAILABLE", "INTERNAL", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED"})
_STATES = {"ENABLED": "active", "DESTROYED": "destroyed"}


@dataclass(frozen=True)
class _Row:
    number: int
    state: str  # ENABLED | DISABLED | DESTROYED
    created_at: datetime


class _StaleEtag(Conflict):
    """The secret changed between our read and our write."""


def _number(resource: str) -> int:
    return int(resource.rsplit("/", 1)[1])


def _utc(value: datetime) -> datetime:
    return datetime(*value.utctimetuple()[:6], value.microsecond, tzinfo=UTC)


class GcpSecretStore:
    """GCP Secret Manager behind the SecretStore contract."""

    name = "gcp"

    def __init__(
        self, client: Any, project: str, *, timeout_s: float = 10.0, retry_s: float = 5.0
    ) -> None:
        if not project or "/" in project:
            raise AdapterError(f"{project!r} is not a GCP project (CONTROLPLANE_GCP_PROJECT)")
        self._client = client
        self._project = project
        self._timeout = timeout_s
        # Reads and enable/disable are safe to resend; adds and annotation writes are not.
        self._retry = Retry(
            predicate=if_exception_type(*_RESEND),
            initial=0.1, maximum=1.0, multiplier=2.0, timeout=retry_s,
        )  # fmt: skip
        self._fingerprints: dict[tuple[str, int], str] = {}  # versions without a record

    def __repr__(self) -> str:
        return f"GcpSecretStore(project={self._project!r})"

    @classmethod
    def connect(
        cls,
        project: str,
        *,
        endpoint: str | None = None,
        credentials: Any = None,
        timeout_s: float = 10.0,
        retry_s: float = 5.0,
    ) -> GcpSecretStore:
        """Build the store on a REST client; credentials: given, else Application Default."""
        options = {"api_endpoint": endpoint} if endpoint else None
        try:
            client = secretmanager.SecretManagerServiceClient(
                transport="rest", credentials=credentials, client_options=options
            )
        except auth_exc.DefaultCredentialsError:
            raise AdapterError(
                "no GCP credentials found (Application Default Credentials)"
            ) from None
        return cls(client, project, timeout_s=timeout_s, retry_s=retry_s)

    # --- the contract ------------------------------------------------------------------------

    def put(self, name: str, value: str) -> SecretVersion:
        """Add a version (creating the secret) and disable the older enabled ones."""
        try:
            self._secret(name)
        except NotFound:
            secret = {"replication": {"automatic": {}}, "labels": {"managed-by": "controlplane"}}
            request = {"parent": f"projects/{self._project}", "secret_id": name, "secret": secret}
            self._call("create_secret", name, request, idempotent=False)
        made = self._add(name, value)
        self._annotate(name, {records.version_key(made): fingerprint(value)})
        return self._settled(name, made)

    def current(self, name: str) -> SecretVersion:
        """The newest enabled version (the newest when none is enabled)."""
        rows = self._rows(name)
        return self._meta(name, _current(name, rows), self._notes(name))

    def reveal(self, name: str) -> str:
        """The current value (consumers only); a disabled current version is not readable."""
        row = _current(name, self._rows(name))
        if row.state != "ENABLED":
            raise Conflict(f"secret {name!r} has no enabled version (version {row.number} is "
                           f"{row.state.lower()})", {"secret": name})  # fmt: skip
        return self._access(name, row.number)

    def rotate(
        self, name: str, new_value: str | None = None, *, idempotency_key: str
    ) -> SecretVersion:
        """Add a version and disable the older enabled ones (once per key)."""
        record = records.record_key(name, idempotency_key)
        made = self._made_by(name, record)
        if made is None:
            value = new_value or fresh_value()
            rows = self._rows(name)
            newest = rows[-1].number if rows else 0
            self._annotate(name, {record: records.pending_note(newest, fingerprint(value))})
            made = self._add(name, value)
            self._annotate(name, {record: str(made), records.version_key(made): fingerprint(value)})
        return self._settled(name, made)

    def revoke(self, name: str, *, idempotency_key: str) -> SecretVersion:
        """Mark the current version revoked and disable it (once per key)."""
        record = records.record_key(name, idempotency_key)
        notes = self._notes(name)
        rows = self._rows(name)
        done = records.made_version(notes.get(record, ""))
        if done is not None:  # the version this key revoked, even if a newer one came since
            target = next((r for r in rows if r.number == done), None)
            if target is None:
                raise NotFound(f"secret {name!r} no longer lists version {done}")
        else:
            target = _current(name, rows)
            mark = records.version_note(self._fingerprint(name, target, notes), revoked=True)
            self._annotate(name, {record: str(target.number),
                                  records.version_key(target.number): mark})  # fmt: skip
        if target.state == "ENABLED":
            self._call("disable_secret_version", name, {"name": self._path(name, target.number)})
        return self._meta_of(name, target.number)

    def versions(self, name: str) -> list[SecretVersion]:
        """Every version's metadata, oldest first."""
        rows = self._rows(name)
        notes = self._notes(name)
        return [self._meta(name, row, notes) for row in rows]

    # --- helpers -----------------------------------------------------------------------------

    def _path(self, name: str, version: int | None = None) -> str:
        if not _ID.match(name):
            raise InvalidSpec(
                f"{name!r} is not a GCP secret id (1-255 of letters, digits, - and _)",
                {"secret": name},
            )
        path = f"projects/{self._project}/secrets/{name}"
        return path if version is None else f"{path}/versions/{version}"

    def _secret(self, name: str) -> Any:
        return self._call("get_secret", name, {"name": self._path(name)})

    def _notes(self, name: str) -> dict[str, str]:
        return dict(self._secret(name).annotations)

    def _rows(self, name: str) -> list[_Row]:
        """Every version, oldest first (GCP lists newest first, a page at a time)."""
        request = {"parent": self._path(name), "page_size": 250}
        with self._translated("list_secret_versions", name), hidden():
            pager = self._client.list_secret_versions(
                request=request, retry=self._retry, timeout=self._timeout
            )
            rows = [_Row(_number(v.name), v.state.name, _utc(v.create_time)) for v in pager]
        return sorted(rows, key=lambda row: row.number)

    def _made_by(self, name: str, record: str) -> int | None:
        """The version an earlier attempt with this key made, adopting one whose answer was lost."""
        note = self._notes(name).get(record, "")
        done, intent = records.made_version(note), records.pending(note)
        if done is not None or intent is None:
            return done
        newest, value_fp = intent
        for row in self._rows(name):
            readable = row.number > newest and row.state == "ENABLED"
            if readable and fingerprint(self._access(name, row.number)) == value_fp:
                self._annotate(name, {record: str(row.number),
                                      records.version_key(row.number): value_fp})  # fmt: skip
                return row.number
        return None

    def _add(self, name: str, value: str) -> int:
        data = value.encode()
        request = {
            "parent": self._path(name),
            "payload": {"data": data, "data_crc32c": crc32c(data)},
        }
        made = self._call("add_secret_version", name, request, value=value, idempotent=False)
        return _number(made.name)

    def _access(self, name: str, number: int) -> str:
        answer = self._call("access_secret_version", name, {"name": self._path(name, number)})
        data = bytes(answer.payload.data)
        if "data_crc32c" in answer.payload and answer.payload.data_crc32c != crc32c(data):
            raise AdapterError(f"secret {name!r} version {number} arrived damaged (crc32c)")
        return data.decode("utf-8", "replace")

    def _annotate(self, name: str, changes: dict[str, str]) -> None:
        """Merge records into the secret's annotations under its etag (re-read if it moved)."""
        for _ in range(3):
            secret = self._secret(name)
            notes = records.pruned(dict(secret.annotations) | changes)
            body = {"name": self._path(name), "annotations": notes, "etag": secret.etag}
            request = {"secret": body, "update_mask": {"paths": ["annotations"]}}
            try:
                self._call("update_secret", name, request, idempotent=False)
                return
            except _StaleEtag:
                continue
        raise Conflict(f"secret {name!r} kept changing while the plane wrote its records")

    def _settled(self, name: str, made: int) -> SecretVersion:
        """Disable the enabled versions older than `made`; the metadata of `made`."""
        for row in self._rows(name):
            if row.number < made and row.state == "ENABLED":
                self._call("disable_secret_version", name, {"name": self._path(name, row.number)})
        return self._meta_of(name, made)

    def _meta_of(self, name: str, number: int) -> SecretVersion:
        row = next((r for r in self._rows(name) if r.number == number), None)
        if row is None:
            raise NotFound(f"secret {name!r} does not list version {number}", {"secret": name})
        return self._meta(name, row, self._notes(name))

    def _meta(self, name: str, row: _Row, notes: dict[str, str]) -> SecretVersion:
        revoked = records.read_version(notes, row.number)[1]
        state = _STATES.get(row.state, "revoked" if revoked else "disabled")
        value_fp = self._fingerprint(name, row, notes)
        return SecretVersion(name, row.number, row.created_at, value_fp, state)

    def _fingerprint(self, name: str, row: _Row, notes: dict[str, str]) -> str:
        """From the version's record; else read it once (only an enabled one can be read)."""
        noted = records.read_version(notes, row.number)[0]
        if noted:
            return noted
        if (name, row.number) not in self._fingerprints:
            if row.state != "ENABLED":
                return "unknown"
            self._fingerprints[name, row.number] = fingerprint(self._access(name, row.number))
        return self._fingerprints[name, row.number]

    def _call(
        self,
        method: str,
        name: str,
        request: dict[str, Any],
        *,
        value: str | None = None,
        idempotent: bool = True,
    ) -> Any:
        """One API call: the value kept out of SDK logs, failures as the plane's errors."""
        retry = self._retry if idempotent else None
        with self._translated(method, name), hidden(value):
            return getattr(self._client, method)(
                request=request, retry=retry, timeout=self._timeout
            )

    @contextmanager
    def _translated(self, method: str, name: str) -> Iterator[None]:
        """google-api-core's errors as ours, naming the secret, never carrying a value."""
        where = {"secret": name, "operation": method, "project": self._project}
        try:
            yield
        except ControlPlaneError:
            raise
        except gexc.GoogleAPICallError as exc:
            raise _refusal(exc, method, name, where) from None
        except (gexc.RetryError, requests.RequestException, auth_exc.TransportError) as exc:
            cause = getattr(exc, "cause", None) or exc  # RetryError: what the last try met
            raise AdapterUnavailable(
                f"gcp secret manager did not answer {method} for secret {name!r} "
                f"({cause.__class__.__name__})",
                where,
            ) from None
        except auth_exc.GoogleAuthError as exc:
            raise AdapterError(
                f"gcp credentials failed for secret {name!r} ({exc.__class__.__name__})", where
            ) from None


def _status(exc: Any) -> str:
    """The Google error's status (PERMISSION_DENIED...): REST errors map only by HTTP code."""
    try:
        return str(exc.response.json()["error"]["status"])
    except (AttributeError, KeyError, TypeError, ValueError):
        return getattr(exc.grpc_status_code, "name", None) or str(exc.code)


def _refusal(exc: Any, method: str, name: str, where: dict[str, Any]) -> ControlPlaneError:
    status, message = _status(exc), str(exc.message)[:300]
    details = where | {"gcp_status": status, "gcp_message": message}
    if status == "NOT_FOUND" or exc.code == 404:
        return NotFound(f"no secret {name!r}", details)
    if status in ("PERMISSION_DENIED", "UNAUTHENTICATED") or exc.code in (401, 403):
        return AdapterError(
            f"gcp secret manager refused {method} on secret {name!r} ({status}): the plane's "
            "credentials are not valid or lack the permission",
            details | {"reason": "access_denied"},
        )
    if status in _BUSY or exc.code == 429 or (exc.code or 0) >= 500:
        return AdapterUnavailable(
            f"gcp secret manager could not serve {method} for secret {name!r} ({status}); "
            "try again later",
            details,
        )
    if status == "ABORTED" or (status == "FAILED_PRECONDITION" and "etag" in message.lower()):
        return _StaleEtag(f"secret {name!r} changed during {method}", details)
    if status in ("FAILED_PRECONDITION", "ALREADY_EXISTS"):
        return Conflict(f"gcp secret manager refused {method} on {name!r}: {message}", details)
    return AdapterError(f"gcp secret manager answered {status} to {method} on {name!r}", details)


def _current(name: str, rows: list[_Row]) -> _Row:
    enabled = [row for row in rows if row.state == "ENABLED"]
    if enabled:
        return enabled[-1]
    if not rows:
        raise NotFound(f"secret {name!r} has no versions", {"secret": name})
    return rows[-1]
