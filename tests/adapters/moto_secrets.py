"""moto's AWS server on a loopback port, as Secrets Manager answers, with IAM on demand.

moto 5.2.5 strays from AWS in two ways the secret store meets, so both are put right here
(in this process: ThreadedMotoServer serves from it): ListSecretVersionIds reports the
listing's own time as every version's CreatedDate (AWS reports when each was written), and
answers an unknown secret with a 500 from a KeyError (AWS: ResourceNotFoundException).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import requests
from moto.secretsmanager.exceptions import SecretNotFoundException
from moto.secretsmanager.models import SecretsManagerBackend
from moto.server import ThreadedMotoServer

REGION = "eu-west-1"
_original_list = SecretsManagerBackend.list_secret_version_ids


def _list_as_aws_does(self: SecretsManagerBackend, secret_id: str) -> str:
    if not self._is_valid_identifier(secret_id):
        raise SecretNotFoundException()
    answer = json.loads(_original_list(self, secret_id))
    versions = self.secrets[secret_id].versions
    for row in answer["Versions"]:
        row["CreatedDate"] = versions[row["VersionId"]]["createdate"]
    return json.dumps(answer)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoAws:
    """One moto server; `stop`/`start` take it down and bring it back on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: ThreadedMotoServer | None = None
        SecretsManagerBackend.list_secret_version_ids = _list_as_aws_does  # type: ignore[method-assign]

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def close(self) -> None:
        self.stop()
        SecretsManagerBackend.list_secret_version_ids = _original_list  # type: ignore[method-assign]

    def reset(self) -> None:
        """Forget every secret, user and policy (moto's backends are per process)."""
        requests.post(f"{self.url}/moto-api/reset", timeout=5).raise_for_status()

    def client(self, service: str = "secretsmanager", **credentials: str) -> Any:
        keys = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        return boto3.client(service, region_name=REGION, endpoint_url=self.url, **keys)

    def user_allowed(self, *actions: str) -> dict[str, str]:
        """Credentials of a new IAM user allowed only `actions` on every secret."""
        iam = self.client("iam")
        name = f"plane-{len(iam.list_users()['Users'])}"
        iam.create_user(UserName=name)
        policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}  # fmt: skip
        iam.put_user_policy(UserName=name, PolicyName="secrets", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"aws_access_key_id": key["AccessKeyId"],
                "aws_secret_access_key": key["SecretAccessKey"]}  # fmt: skip

    @contextmanager
    def enforcing_iam(self) -> Iterator[None]:
        """Check every request against IAM (moto lets everything through by default)."""
        requests.post(f"{self.url}/moto-api/reset-auth", data=b"0", timeout=5).raise_for_status()
        try:
            yield
        finally:
            requests.post(f"{self.url}/moto-api/reset-auth", data=b"inf", timeout=5)
