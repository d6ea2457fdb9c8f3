"""A stateful slice of GCP Secret Manager's v1 REST API on pytest-httpserver, in its own shapes.

Secrets (create, get, patch of labels/annotations under the etag), versions (add with its
CRC-32C checked, get, list newest first a page at a time, access, disable, enable, destroy) and
the `latest` alias. Names in answers carry the project *number*, as GCP's do; enums go out as
names, or as numbers when the client asks `$alt=json;enum-encoding=int` (the REST transport
does); errors are Google JSON errors ({"error": {"code", "message", "status"}}). Limits as
documented: 64 KiB payloads, annotation keys of 1-63 characters, 16 KiB of annotations.

Knobs: `denied` (permissions answered PERMISSION_DENIED), `unavailable` (every call 503),
`lose_next` (RPC names: perform the next such call, then answer 503 as if its answer was lost),
`page_cap` (the most versions one page holds), `damaged` (access answers flip a payload byte
after the checksum was computed), `before_update` (run once, as another writer, on the secret
just before an UpdateSecret checks its etag).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from controlplane.adapters.checksums import crc32c

STATES = {"STATE_UNSPECIFIED": 0, "ENABLED": 1, "DISABLED": 2, "DESTROYED": 3}
_PROJECT = r"^/v1/projects/(?P<project>[^/]+)"
_SECRET = _PROJECT + r"/secrets/(?P<secret>[^/:]+)"
_VERSION = _SECRET + r"/versions/(?P<version>[^/:]+)"
# (method, path, RPC, permission)
ROUTES = [
    ("POST", _PROJECT + r"/secrets$", "CreateSecret", "secrets.create"),
    ("GET", _SECRET + r"$", "GetSecret", "secrets.get"),
    ("PATCH", _SECRET + r"$", "UpdateSecret", "secrets.update"),
    ("POST", _SECRET + r":addVersion$", "AddSecretVersion", "versions.add"),
    ("GET", _SECRET + r"/versions$", "ListSecretVersions", "versions.list"),
    ("GET", _VERSION + r"$", "GetSecretVersion", "versions.get"),
    ("GET", _VERSION + r":access$", "AccessSecretVersion", "versions.access"),
    ("POST", _VERSION + r":disable$", "DisableSecretVersion", "versions.disable"),
    ("POST", _VERSION + r":enable$", "EnableSecretVersion", "versions.enable"),
    ("POST", _VERSION + r":destroy$", "DestroySecretVersion", "versions.destroy"),
]
_ANNOTATION_KEY = re.compile(r"^[A-Za-z0-9]([-_.A-Za-z0-9]{0,61}[A-Za-z0-9])?$")
_SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def now() -> str:
    """A timestamp as GCP writes them (RFC 3339, fractional seconds, Z)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class GoogleError(Exception):
    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.body = {"error": {"code": code, "message": message, "status": status}}
        self.code = code


@dataclass
class FakeVersion:
    number: int
    data: bytes
    state: str = "ENABLED"
    checksum_given: bool = False
    create_time: str = field(default_factory=now)
    destroy_time: str | None = None


@dataclass
class FakeSecret:
    id: str
    replication: dict[str, Any]
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    versions: list[FakeVersion] = field(default_factory=list)
    create_time: str = field(default_factory=now)
    revision: int = 1


class FakeSecretManager:
    """Serves secrets and their versions; records every call it answers (RPC names)."""

    def __init__(
        self, server: HTTPServer, project: str = "acme-prod", number: str = "418230716102"
    ) -> None:
        self.project, self.number = project, number
        self.endpoint = server.url_for("/").rstrip("/")
        self.secrets: dict[str, FakeSecret] = {}
        self.calls: list[str] = []
        self.denied: set[str] = set()  # e.g. "secretmanager.versions.add"
        self.unavailable = False
        self.lose_next: set[str] = set()
        self.page_cap = 25000
        self.damaged = False
        self.before_update: Callable[[FakeSecret], None] | None = None
        self._lock = threading.Lock()
        server.expect_request(re.compile(r"^/v1/.*")).respond_with_handler(self.handle)

    # --- shapes ------------------------------------------------------------------------------

    def secret_name(self, secret: FakeSecret) -> str:
        return f"projects/{self.number}/secrets/{secret.id}"

    def secret_json(self, secret: FakeSecret) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.secret_name(secret), "replication": secret.replication,
                                "createTime": secret.create_time,
                                "etag": f'"{secret.revision:016x}"'}  # fmt: skip
        if secret.labels:
            body["labels"] = secret.labels
        if secret.annotations:
            body["annotations"] = secret.annotations
        return body

    def version_json(self, secret: FakeSecret, version: FakeVersion, ints: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": f"{self.secret_name(secret)}/versions/{version.number}",
            "createTime": version.create_time,
            "state": STATES[version.state] if ints else version.state,
            "replicationStatus": {"automatic": {}},
            "etag": f'"{version.number:04x}{STATES[version.state]}"',
            "clientSpecifiedPayloadChecksum": version.checksum_given,
        }
        if version.destroy_time:
            body["destroyTime"] = version.destroy_time
        return body

    # --- dispatch ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        with self._lock:
            try:
                rpc, permission, parts = self._route(request)
                self.calls.append(rpc)
                self._admit(request, permission, parts)
                body = getattr(self, "_" + rpc)(request, **parts)
                if rpc in self.lose_next:
                    self.lose_next.discard(rpc)
                    raise GoogleError(503, "UNAVAILABLE", "The service is currently unavailable.")
                return self._json(200, body)
            except GoogleError as err:
                return self._json(err.code, err.body)

    def _route(self, request: Request) -> tuple[str, str, dict[str, str]]:
        for method, pattern, rpc, permission in ROUTES:
            found = re.match(pattern, request.path)
            if found and request.method == method:
                return rpc, "secretmanager." + permission, found.groupdict()
        raise GoogleError(404, "NOT_FOUND", f"The requested URL {request.path} was not found.")

    def _admit(self, request: Request, permission: str, parts: dict[str, str]) -> None:
        if self.unavailable:
            raise GoogleError(503, "UNAVAILABLE", "The service is currently unavailable.")
        resource = request.path.removeprefix("/v1/").split(":")[0]
        if parts["project"] not in (self.project, self.number) or permission in self.denied:
            raise GoogleError(403, "PERMISSION_DENIED", f"Permission '{permission}' denied for "
                              f"resource '{resource}' (or it may not exist).")  # fmt: skip

    @staticmethod
    def _json(status: int, body: dict[str, Any]) -> Response:
        return Response(json.dumps(body), status, content_type="application/json; charset=UTF-8")

    @staticmethod
    def _ints(request: Request) -> bool:
        return "enum-encoding=int" in request.args.get("$alt", "")

    def _secret(self, project: str, secret: str) -> FakeSecret:
        found = self.secrets.get(secret)
        if found is None:
            raise GoogleError(404, "NOT_FOUND", f"Secret [projects/{self.number}/secrets/{secret}]"
                              " not found.")  # fmt: skip
        return found

    def _version(self, project: str, secret: str, version: str) -> tuple[FakeSecret, FakeVersion]:
        held = self._secret(project, secret)
        if version == "latest" and held.versions:
            return held, held.versions[-1]
        number = int(version) if version.isdigit() else 0
        if not 0 < number <= len(held.versions):
            raise GoogleError(404, "NOT_FOUND", f"Secret Version [{self.secret_name(held)}/"
                              f"versions/{version}] not found.")  # fmt: skip
        return held, held.versions[number - 1]

    # --- RPCs --------------------------------------------------------------------------------

    def _CreateSecret(self, request: Request, project: str) -> dict[str, Any]:
        secret_id = request.args.get("secretId", "")
        body = request.get_json(silent=True) or {}
        if not _SECRET_ID.match(secret_id):
            raise GoogleError(400, "INVALID_ARGUMENT", f"Invalid secret id {secret_id!r}.")
        if "replication" not in body:
            raise GoogleError(400, "INVALID_ARGUMENT", "Secret.replication is required.")
        if secret_id in self.secrets:
            raise GoogleError(409, "ALREADY_EXISTS", f"Secret [projects/{self.number}/secrets/"
                              f"{secret_id}] already exists.")  # fmt: skip
        made = FakeSecret(secret_id, body["replication"], dict(body.get("labels", {})),
                          _checked(dict(body.get("annotations", {}))))  # fmt: skip
        self.secrets[secret_id] = made
        return self.secret_json(made)

    def _GetSecret(self, request: Request, project: str, secret: str) -> dict[str, Any]:
        return self.secret_json(self._secret(project, secret))

    def _UpdateSecret(self, request: Request, project: str, secret: str) -> dict[str, Any]:
        held = self._secret(project, secret)
        body = request.get_json(silent=True) or {}
        paths = [p for p in request.args.get("updateMask", "").split(",") if p]
        if self.before_update is not None:
            interfere, self.before_update = self.before_update, None
            interfere(held)
            held.revision += 1
        if not paths or set(paths) - {"labels", "annotations"}:
            raise GoogleError(400, "INVALID_ARGUMENT", f"Invalid update mask {paths}.")
        if body.get("etag") and body["etag"] != self.secret_json(held)["etag"]:
            raise GoogleError(409, "ABORTED", "The etag provided in the request does not match "
                              "the current etag of the secret.")  # fmt: skip
        if "annotations" in paths:
            held.annotations = _checked(dict(body.get("annotations", {})))
        if "labels" in paths:
            held.labels = dict(body.get("labels", {}))
        held.revision += 1
        return self.secret_json(held)

    def _AddSecretVersion(self, request: Request, project: str, secret: str) -> dict[str, Any]:
        held = self._secret(project, secret)
        payload = (request.get_json(silent=True) or {}).get("payload", {})
        data = base64.b64decode(payload.get("data", ""))
        if len(data) > 65536:
            raise GoogleError(400, "INVALID_ARGUMENT", "Secret payload exceeds 65536 bytes.")
        given = payload.get("dataCrc32c")
        if given is not None and int(given) != crc32c(data):
            raise GoogleError(400, "INVALID_ARGUMENT", "Data integrity check failed: the "
                              "payload's checksum does not match data_crc32c.")  # fmt: skip
        version = FakeVersion(len(held.versions) + 1, data, checksum_given=given is not None)
        held.versions.append(version)
        return self.version_json(held, version, self._ints(request))

    def _ListSecretVersions(self, request: Request, project: str, secret: str) -> dict[str, Any]:
        held = self._secret(project, secret)
        size = min(int(request.args.get("pageSize") or 25) or 25, self.page_cap)
        start = int(base64.b64decode(request.args.get("pageToken") or "MA==").decode())
        newest_first = held.versions[::-1]
        page = newest_first[start : start + size]
        shown = [self.version_json(held, v, self._ints(request)) for v in page]
        body: dict[str, Any] = {"versions": shown, "totalSize": len(held.versions)}
        if start + size < len(newest_first):
            body["nextPageToken"] = base64.b64encode(str(start + size).encode()).decode()
        if not page:
            body.pop("versions")
        return body

    def _GetSecretVersion(
        self, request: Request, project: str, secret: str, version: str
    ) -> dict[str, Any]:
        held, found = self._version(project, secret, version)
        return self.version_json(held, found, self._ints(request))

    def _AccessSecretVersion(
        self, request: Request, project: str, secret: str, version: str
    ) -> dict[str, Any]:
        held, found = self._version(project, secret, version)
        name = f"{self.secret_name(held)}/versions/{found.number}"
        if found.state != "ENABLED":
            raise GoogleError(400, "FAILED_PRECONDITION", f"SecretVersion [{name}] is in "
                              f"{found.state} state.")  # fmt: skip
        checksum, sent = crc32c(found.data), bytearray(found.data)
        if self.damaged and sent:
            sent[0] ^= 0x01
        data = base64.b64encode(bytes(sent)).decode()
        return {"name": name, "payload": {"data": data, "dataCrc32c": str(checksum)}}

    def _set_state(self, request: Request, secret: str, version: str, state: str) -> dict[str, Any]:
        held, found = self._version(self.project, secret, version)
        if found.state == "DESTROYED" and state != "DESTROYED":
            raise GoogleError(400, "FAILED_PRECONDITION", f"SecretVersion [{self.secret_name(held)}"
                              f"/versions/{found.number}] is in DESTROYED state.")  # fmt: skip
        found.state = state
        if state == "DESTROYED":
            found.data, found.destroy_time = b"", found.destroy_time or now()
        return self.version_json(held, found, self._ints(request))

    def _DisableSecretVersion(
        self, request: Request, project: str, secret: str, version: str
    ) -> dict[str, Any]:
        return self._set_state(request, secret, version, "DISABLED")

    def _EnableSecretVersion(
        self, request: Request, project: str, secret: str, version: str
    ) -> dict[str, Any]:
        return self._set_state(request, secret, version, "ENABLED")

    def _DestroySecretVersion(
        self, request: Request, project: str, secret: str, version: str
    ) -> dict[str, Any]:
        return self._set_state(request, secret, version, "DESTROYED")


def _checked(annotations: dict[str, str]) -> dict[str, str]:
    """Refuse annotations as Secret Manager does: key shape, and 16 KiB in all."""
    for key in annotations:
        if not _ANNOTATION_KEY.match(key):
            raise GoogleError(400, "INVALID_ARGUMENT", f"Invalid annotation key {key!r}.")
    if sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items()) > 16384:
        raise GoogleError(400, "INVALID_ARGUMENT", "Annotations exceed the 16 KiB limit.")
    return annotations
