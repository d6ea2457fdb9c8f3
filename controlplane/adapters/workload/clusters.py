"""Cluster credentials for the Kubernetes backend: EKS (boto3) and GKE (google-cloud-container)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controlplane.errors import AdapterError, AdapterUnavailable

EKS_TOKEN_PREFIX = "k8s-aws-v1."
EKS_CLUSTER_HEADER = "x-k8s-aws-id"


@dataclass(frozen=True)
class ClusterEndpoint:
    """Where a managed cluster's API server is and the CA (base64 PEM) that signs its cert."""

    name: str
    host: str
    ca_data: str

    def write_ca(self, directory: Path) -> Path:
        """Write the CA to a file, as the kubernetes client wants a path."""
        pem = base64.b64decode(self.ca_data)
        path = directory / f"ca-{hashlib.sha256(pem).hexdigest()[:16]}.pem"
        directory.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pem)
        return path


@contextmanager
def _aws_translated(what: str) -> Iterator[None]:
    """botocore errors: unreachable/throttled -> AdapterUnavailable, refusals -> AdapterError."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        cls = AdapterUnavailable if status >= 500 or "Throttl" in code else AdapterError
        raise cls(f"AWS refused {what}: {code or status}", {"code": code}) from exc
    except EndpointConnectionError as exc:
        raise AdapterUnavailable(f"AWS unreachable during {what}") from exc
    except BotoCoreError as exc:
        raise AdapterError(f"AWS client failed during {what}: {exc}") from exc


def eks_endpoint(eks_client: Any, cluster_name: str) -> ClusterEndpoint:
    """describe_cluster -> API server URL and CA."""
    with _aws_translated(f"describe_cluster {cluster_name}"):
        cluster = eks_client.describe_cluster(name=cluster_name)["cluster"]
    try:
        return ClusterEndpoint(
            cluster_name, cluster["endpoint"], cluster["certificateAuthority"]["data"]
        )
    except KeyError as exc:
        raise AdapterError(f"EKS cluster {cluster_name} has no endpoint yet ({exc})") from exc


def eks_token(sts_client: Any, cluster_name: str, *, expires_s: int = 60) -> str:
    """The aws-iam-authenticator bearer token: a presigned STS GetCallerIdentity URL, base64url."""

    def add_cluster_header(request: Any, **_: Any) -> None:
        request.headers[EKS_CLUSTER_HEADER] = cluster_name

    events = sts_client.meta.events
    hook = "before-sign.sts.GetCallerIdentity"
    events.register_first(hook, add_cluster_header, unique_id=f"eks-token-{cluster_name}")
    try:
        with _aws_translated("presigning GetCallerIdentity"):
            url: str = sts_client.generate_presigned_url(
                "get_caller_identity", Params={}, ExpiresIn=expires_s, HttpMethod="GET"
            )
    finally:
        events.unregister(hook, add_cluster_header, unique_id=f"eks-token-{cluster_name}")
    return EKS_TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


@contextmanager
def _gcp_translated(what: str) -> Iterator[None]:
    """google-api-core errors: 5xx/transport -> AdapterUnavailable, 4xx -> AdapterError."""
    from google.api_core import exceptions as gexc
    from google.auth.exceptions import GoogleAuthError
    from requests import RequestException

    try:
        yield
    except GoogleAuthError as exc:
        raise AdapterError(f"GCP credentials failed during {what}: {exc}") from exc
    except gexc.GoogleAPICallError as exc:
        code = int(exc.code or 0)
        cls = AdapterUnavailable if code >= 500 or code == 429 else AdapterError
        raise cls(f"GKE refused {what}: {code} {exc.message}", {"code": code}) from exc
    except (gexc.GoogleAPIError, RequestException) as exc:
        raise AdapterUnavailable(
            f"GKE unreachable during {what}: {exc.__class__.__name__}"
        ) from exc


def gke_client(*, credentials: Any = None, api_endpoint: str | None = None) -> Any:
    """A ClusterManagerClient over REST (an endpoint override points it at a fake in tests)."""
    from google.cloud import container_v1

    options = {"api_endpoint": api_endpoint} if api_endpoint else None
    return container_v1.ClusterManagerClient(
        credentials=credentials, transport="rest", client_options=options
    )


def gke_endpoint(client: Any, project: str, location: str, cluster_name: str) -> ClusterEndpoint:
    """get_cluster -> API server URL and CA."""
    name = f"projects/{project}/locations/{location}/clusters/{cluster_name}"
    with _gcp_translated(f"get_cluster {name}"):
        cluster = client.get_cluster(name=name, timeout=30)
    if not cluster.endpoint:
        raise AdapterError(f"GKE cluster {name} has no endpoint yet")
    return ClusterEndpoint(
        cluster_name, f"https://{cluster.endpoint}", cluster.master_auth.cluster_ca_certificate
    )


def gke_token(credentials: Any) -> str:
    """A fresh OAuth access token from google-auth credentials (GKE accepts it as a bearer)."""
    from google.auth.transport.requests import Request

    with _gcp_translated("refreshing GCP credentials"):
        credentials.refresh(Request())
    token: str = credentials.token
    return token
