"""SecretStore on AWS Secrets Manager (boto3), rotating the way AWS rotates: by staging labels.

Version ids are the plane's: `<seq:08d>-<fingerprint>-<tag>`, 54 characters, within the 32-64
a ClientRequestToken may have (it becomes the VersionId). AWS numbers nothing, so the sequence
gives the plane's version numbers; the fingerprint lets a listing report it without reading a
value (each GetSecretValue is a billed read that CloudTrail records); for a rotation the tag is
sha256(name, idempotency key), so a retried step finds the version its first attempt wrote
instead of writing a second, and botocore's own retries resend the same token, which AWS
dedupes. Versions written by anything else (console, IaC, a rotation Lambda) are reported as
version 0, fingerprinted by reading them once.

Rotate: PutSecretValue(VersionStages=[AWSPENDING]), then UpdateSecretVersionStage moves
AWSCURRENT onto the new version (AWS moves AWSPREVIOUS onto the old one). Readers ask by
VersionStage=AWSCURRENT, so until that move they keep the old value: a rotation that fails
half-way changes nothing they see, and its retry finishes it.

Revoke labels the current version `cp-revoked-<tag>` and leaves AWSCURRENT on it, as the local
store marks without removing. AWS has no disabled state (a version is what its labels say) and
will not take AWSCURRENT off a version without putting it on another, and a secret that answers
nothing breaks every consumer at once: the breach playbook rotates right after revoking. The
label keeps the version from being deprecated (AWS never prunes the evidence), marks it in every
listing and names the key that revoked it, so a replay answers the same version. When AWSCURRENT
moves off a revoked version, AWSPREVIOUS is taken off it too: whatever falls back to the "last
known good" value must not get the leaked one. DeleteSecret, even with a recovery window, is not
revoke: it cuts every consumer off, the rotation that follows is refused (a secret scheduled
for deletion takes no new value), and only a hand-run RestoreSecret undoes it. A revoked
version is recovered by removing its label. AWS allows 20 staging labels per secret, so after
some 17 revocations a secret refuses the next (AdapterError) until old cp-revoked labels go.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError

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

CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"
REVOKED_LABEL = "cp-revoked-"
_OURS = re.compile(r"^(?P<seq>\d{8})-(?P<fp>[0-9a-f]{12})-(?P<tag>[0-9a-f]{32})$")
_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_REFUSED = frozenset({
    "AccessDenied", "AccessDeniedException", "UnrecognizedClientException",
    "InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch",
    "ExpiredTokenException", "IncompleteSignature", "MissingAuthenticationToken",
})  # fmt: skip
_BUSY = frozenset({
    "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
    "InternalServiceError", "InternalFailure", "ServiceUnavailable", "RequestTimeout",
})  # fmt: skip
_STATE = frozenset({"InvalidRequestException", "InvalidParameterException",
                    "ResourceExistsException", "PreconditionNotMetException"})  # fmt: skip


def key_tag(name: str, idempotency_key: str) -> str:
    """32 hex naming one (secret, idempotency key): the tail of the version id it writes."""
    return hashlib.sha256(f"{name}\0{idempotency_key}".encode()).hexdigest()[:32]


def version_id(seq: int, value_fingerprint: str, tag: str) -> str:
    """The ClientRequestToken, and so the VersionId, of the plane's version `seq`."""
    return f"{seq:08d}-{value_fingerprint}-{tag}"


@dataclass(frozen=True)
class _Version:
    """One version as ListSecretVersionIds shows it."""

    id: str
    stages: frozenset[str]
    created_at: datetime

    @property
    def seq(self) -> int:
        found = _OURS.match(self.id)
        return int(found["seq"]) if found else 0

    @property
    def tag(self) -> str | None:
        found = _OURS.match(self.id)
        return found["tag"] if found else None

    @property
    def revoked(self) -> bool:
        return any(stage.startswith(REVOKED_LABEL) for stage in self.stages)

    @property
    def state(self) -> str:
        if self.revoked:
            return "revoked"
        return "active" if CURRENT in self.stages else "disabled"


def _aws_error(exc: Any) -> tuple[str, str, int]:
    """Code, message and HTTP status of a ClientError (moto answers IAM refusals in XML)."""
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    if message.lstrip().startswith("<"):
        found = dict(re.findall(r"<(Code|Message)>(.*?)</\1>", message, re.S))
        code, message = found.get("Code", code), found.get("Message", "")
    return (
        code,
        message[:300],
        int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)),
    )


class AwsSecretStore:
    """AWS Secrets Manager behind the SecretStore contract."""

    name = "aws"

    def __init__(self, client: Any) -> None:
        self._client = client
        self._endpoint = str(client.meta.endpoint_url)
        self._fingerprints: dict[tuple[str, str], str] = {}  # versions written by others

    def __repr__(self) -> str:
        return f"AwsSecretStore(endpoint={self._endpoint!r})"

    @classmethod
    def connect(
        cls,
        region: str,
        endpoint_url: str | None = None,
        *,
        timeout_s: float = 5.0,
        max_attempts: int = 3,
    ) -> AwsSecretStore:
        """Build the store on its own client; credentials come from the environment's chain."""
        if not region:
            raise AdapterError("no AWS region configured (CONTROLPLANE_AWS_REGION)")
        config = Config(
            connect_timeout=timeout_s,
            read_timeout=timeout_s,
            retries={"mode": "standard", "max_attempts": max_attempts},
            user_agent_extra="controlplane",
        )
        client = boto3.session.Session().client(
            "secretsmanager", region_name=region, endpoint_url=endpoint_url, config=config
        )
        return cls(client)

    # --- the contract ------------------------------------------------------------------------

    def put(self, name: str, value: str) -> SecretVersion:
        """Store a new current version (creating the secret); the old one becomes AWSPREVIOUS."""
        try:
            versions = self._list(name)
        except NotFound:
            made = version_id(1, fingerprint(value), uuid.uuid4().hex)
            self._call("create_secret", name, value=value, Name=name, SecretString=value,
                       ClientRequestToken=made,
                       Tags=[{"Key": "managed-by", "Value": "controlplane"}])  # fmt: skip
        else:
            made = version_id(_next_seq(versions), fingerprint(value), uuid.uuid4().hex)
            self._call("put_secret_value", name, value=value, SecretId=name,
                       SecretString=value, ClientRequestToken=made)  # fmt: skip
        return self._settled(name, made)

    def current(self, name: str) -> SecretVersion:
        """The version AWSCURRENT is on."""
        return self._meta(name, _current(name, self._list(name)))

    def reveal(self, name: str) -> str:
        """The current value (consumers only)."""
        self._check(name)
        answer = self._call("get_secret_value", name, SecretId=name, VersionStage=CURRENT)
        if "SecretString" not in answer:
            raise AdapterError(f"secret {name!r} holds binary data, not text", {"secret": name})
        return str(answer["SecretString"])

    def rotate(
        self, name: str, new_value: str | None = None, *, idempotency_key: str
    ) -> SecretVersion:
        """Write a pending version, then move AWSCURRENT onto it (once per key)."""
        tag = key_tag(name, idempotency_key)
        versions = self._list(name)
        mine = next((v for v in versions if v.tag == tag), None)
        if mine is None:
            value = new_value or fresh_value()
            made = version_id(_next_seq(versions), fingerprint(value), tag)
            answer = self._call("put_secret_value", name, value=value, SecretId=name,
                                SecretString=value, ClientRequestToken=made,
                                VersionStages=[PENDING])  # fmt: skip
            stages = frozenset(answer.get("VersionStages") or [PENDING])
            mine = _Version(made, stages, datetime.now(UTC))
        if PENDING in mine.stages and CURRENT not in mine.stages:
            # a later rotation would have moved AWSPENDING away: this one is still the newest
            old = _current(name, versions)
            self._stage(name, CURRENT, move_to=mine.id, remove_from=old.id)
        if PENDING in mine.stages:
            self._stage(name, PENDING, remove_from=mine.id)
        return self._settled(name, mine.id)

    def revoke(self, name: str, *, idempotency_key: str) -> SecretVersion:
        """Label the current version revoked (once per key); AWSCURRENT stays until a rotation."""
        label = REVOKED_LABEL + key_tag(name, idempotency_key)
        versions = self._list(name)
        done = next((v for v in versions if label in v.stages), None)
        if done is not None:  # the version this key revoked, even if a newer one came since
            return self._meta(name, done)
        target = _current(name, versions)
        self._stage(name, label, move_to=target.id)
        return self._meta(name, replace(target, stages=target.stages | {label}))

    def versions(self, name: str) -> list[SecretVersion]:
        """Every version's metadata, oldest first (deprecated ones included)."""
        return [self._meta(name, v) for v in self._list(name)]

    # --- helpers -----------------------------------------------------------------------------

    def _check(self, name: str) -> None:
        if not _NAME.match(name):
            raise InvalidSpec(
                f"{name!r} is not an AWS secret name (1-512 of letters, digits and /_+=.@-)",
                {"secret": name},
            )

    def _list(self, name: str) -> list[_Version]:
        self._check(name)
        found: list[_Version] = []
        token: str | None = None
        while True:
            page = self._call("list_secret_version_ids", name, SecretId=name,
                              IncludeDeprecated=True, MaxResults=100,
                              **({"NextToken": token} if token else {}))  # fmt: skip
            found += [
                _Version(
                    v["VersionId"],
                    frozenset(v.get("VersionStages") or ()),
                    v["CreatedDate"].astimezone(UTC),
                )
                for v in page.get("Versions", [])
            ]
            token = page.get("NextToken")
            if not token:
                return sorted(found, key=lambda v: (v.created_at, v.seq, v.id))

    def _settled(self, name: str, made: str) -> SecretVersion:
        """After a write: no revoked version keeps AWSPREVIOUS; the metadata of `made`."""
        versions = self._list(name)
        for version in versions:
            if version.revoked and PREVIOUS in version.stages:
                self._stage(name, PREVIOUS, remove_from=version.id)
        mine = next((v for v in versions if v.id == made), None)
        if mine is None:
            raise AdapterError(f"aws does not list the version just written to {name!r}")
        return self._meta(name, mine)

    def _stage(
        self, name: str, label: str, *, move_to: str | None = None, remove_from: str | None = None
    ) -> None:
        params: dict[str, Any] = {"SecretId": name, "VersionStage": label}
        if move_to:
            params["MoveToVersionId"] = move_to
        if remove_from:
            params["RemoveFromVersionId"] = remove_from
        self._call("update_secret_version_stage", name, **params)

    def _meta(self, name: str, version: _Version) -> SecretVersion:
        found = _OURS.match(version.id)
        value_fp = found["fp"] if found else self._fingerprint_of(name, version.id)
        return SecretVersion(name, version.seq, version.created_at, value_fp, version.state)

    def _fingerprint_of(self, name: str, version: str) -> str:
        """Read a version the plane did not write, once, to fingerprint it."""
        if (name, version) not in self._fingerprints:
            answer = self._call("get_secret_value", name, SecretId=name, VersionId=version)
            value = answer.get("SecretString")
            if value is None:
                value = bytes(answer.get("SecretBinary", b"")).decode("utf-8", "replace")
            self._fingerprints[name, version] = fingerprint(value)
        return self._fingerprints[name, version]

    def _call(self, operation: str, name: str, *, value: str | None = None, **params: Any) -> Any:
        """One API call: the value kept out of SDK logs, failures as the plane's errors."""
        with self._translated(operation, name), hidden(value):
            return getattr(self._client, operation)(**params)

    @contextmanager
    def _translated(self, operation: str, name: str) -> Iterator[None]:
        """botocore's errors as ours, naming the secret, never carrying a value (`from None`)."""
        where = {"secret": name, "operation": operation, "endpoint": self._endpoint}
        try:
            yield
        except ControlPlaneError:
            raise
        except ClientError as exc:
            raise self._refusal(exc, operation, name, where) from None
        except (BotoConnectionError, HTTPClientError) as exc:
            raise AdapterUnavailable(
                f"aws secrets manager at {self._endpoint} did not answer {operation} for "
                f"secret {name!r} ({exc.__class__.__name__})",
                where,
            ) from None
        except NoCredentialsError:
            raise AdapterError(
                "no AWS credentials found (environment, shared files, or instance role)", where
            ) from None
        except BotoCoreError as exc:  # a parameter refused before sending: its text may quote it
            raise AdapterError(
                f"boto3 refused {operation} for secret {name!r} ({exc.__class__.__name__})", where
            ) from None

    @staticmethod
    def _refusal(exc: Any, operation: str, name: str, where: dict[str, Any]) -> ControlPlaneError:
        code, message, status = _aws_error(exc)
        details = where | {"aws_code": code, "aws_message": message}
        if code == "ResourceNotFoundException":
            return NotFound(f"no secret {name!r}", details)
        if code in _REFUSED or status in (401, 403):
            return AdapterError(
                f"aws secrets manager refused {operation} on secret {name!r} ({code}): the "
                "plane's credentials are not valid or lack the permission",
                details | {"reason": "access_denied"},
            )
        if code in _BUSY or status == 429 or status >= 500:
            return AdapterUnavailable(
                f"aws secrets manager could not serve {operation} for secret {name!r} "
                f"({code or status}); try again later",
                details,
            )
        if code in _STATE:
            return Conflict(
                f"aws secrets manager refused {operation} on {name!r}: {message}", details
            )
        return AdapterError(
            f"aws secrets manager answered {code} to {operation} on {name!r}", details
        )


def _current(name: str, versions: list[_Version]) -> _Version:
    found = next((v for v in versions if CURRENT in v.stages), None)
    if found is None:
        raise NotFound(f"secret {name!r} has no current version", {"secret": name})
    return found


def _next_seq(versions: list[_Version]) -> int:
    return max((v.seq for v in versions), default=0) + 1
