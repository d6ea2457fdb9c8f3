"""Cluster credentials: EKS against moto's server, GKE against a local fake REST endpoint."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from controlplane.adapters.workload.clusters import (
    EKS_TOKEN_PREFIX,
    ClusterEndpoint,
    eks_endpoint,
    eks_token,
    gke_client,
    gke_endpoint,
)
from controlplane.errors import AdapterError, AdapterUnavailable

CA = base64.b64encode(
    b"-----BEGIN CERTIFICATE-----\nZmFrZQ==\n-----END CERTIFICATE-----\n"
).decode()


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """moto's AWS server on a loopback port (stopped after the module)."""
    server_mod = pytest.importorskip("moto.server")
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _aws(service: str, url: str) -> Any:
    boto3 = pytest.importorskip("boto3")
    return boto3.client(
        service, region_name="eu-west-1", endpoint_url=url,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


def test_eks_endpoint_from_describe_cluster(moto_url: str) -> None:
    """describe_cluster gives the API server URL and its CA."""
    eks = _aws("eks", moto_url)
    eks.create_cluster(
        name="mlops-prod", roleArn="arn:aws:iam::123456789012:role/eks",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
    )  # fmt: skip
    endpoint = eks_endpoint(eks, "mlops-prod")
    assert endpoint.host.startswith("https://") and endpoint.ca_data
    with pytest.raises(AdapterError, match="ResourceNotFoundException"):
        eks_endpoint(eks, "missing")


def test_eks_token_is_a_presigned_get_caller_identity_with_cluster_header(moto_url: str) -> None:
    """k8s-aws-v1.<base64url(presigned STS URL)>, signed over the x-k8s-aws-id header."""
    sts = _aws("sts", moto_url)
    token = eks_token(sts, "mlops-prod")
    assert token.startswith(EKS_TOKEN_PREFIX) and "=" not in token
    encoded = token.removeprefix(EKS_TOKEN_PREFIX)
    url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    query = {k.lower(): v for k, v in parse_qs(urlparse(url).query).items()}
    assert query["action"] == ["GetCallerIdentity"] and query["x-amz-expires"] == ["60"]
    assert "x-k8s-aws-id" in query["x-amz-signedheaders"][0].split(";")
    assert url.startswith(moto_url) and query["x-amz-credential"][0].endswith("/sts/aws4_request")
    # moto's server routes a signature-in-query GET to S3, so the URL is checked, not replayed.
    assert eks_token(sts, "other") != token  # the hook is per call, not left registered


def test_aws_unreachable_is_adapter_unavailable() -> None:
    """No STS/EKS endpoint listening -> AdapterUnavailable."""
    eks = _aws("eks", "http://127.0.0.1:9")
    eks.meta.config.retries = {"max_attempts": 1}
    with pytest.raises(AdapterUnavailable):
        eks_endpoint(eks, "mlops-prod")


class _FakeGke(BaseHTTPRequestHandler):
    """Answers GET /v1/projects/*/locations/*/clusters/<name> like the GKE REST API."""

    clusters = {"mlops-prod": {"name": "mlops-prod", "endpoint": "34.1.2.3",
                               "masterAuth": {"clusterCaCertificate": CA}}}  # fmt: skip

    def do_GET(self) -> None:
        name = self.path.split("?")[0].rsplit("/", 1)[-1]
        cluster = self.clusters.get(name)
        status = 200 if cluster else 404
        body = cluster or {"error": {"code": 404, "message": f"cluster {name} not found",
                                     "status": "NOT_FOUND"}}  # fmt: skip
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gke_url() -> Iterator[str]:
    """The fake GKE endpoint on a loopback port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeGke)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_gke_endpoint_over_rest_with_anonymous_credentials(gke_url: str, tmp_path: Any) -> None:
    """get_cluster over REST gives https://<endpoint> and the CA, which writes to a PEM file."""
    credentials = pytest.importorskip("google.auth.credentials")
    client = gke_client(credentials=credentials.AnonymousCredentials(), api_endpoint=gke_url)
    endpoint = gke_endpoint(client, "acme", "europe-west1", "mlops-prod")
    assert endpoint == ClusterEndpoint("mlops-prod", "https://34.1.2.3", CA)
    assert endpoint.write_ca(tmp_path).read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    with pytest.raises(AdapterError, match="404") as missing:
        gke_endpoint(client, "acme", "europe-west1", "nope")
    assert not isinstance(missing.value, AdapterUnavailable)
