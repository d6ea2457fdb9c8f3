"""The real ClusterApi over the official kubernetes client, with its errors translated."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from controlplane.errors import AdapterError, AdapterUnavailable, NotFound

MERGE_PATCH = "application/merge-patch+json"


def in_cluster() -> bool:
    """A pod with a service account token and no kubeconfig of its own."""
    import os

    kubeconfig = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and not os.path.exists(kubeconfig)


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn kubernetes/urllib3 failures into AdapterUnavailable (can't reach) or AdapterError."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except ApiException as exc:
        details = {"status": exc.status, "reason": exc.reason, "operation": what}
        message = f"kubernetes refused {what}: {exc.status} {exc.reason}"
        if exc.status in (0, 429) or (exc.status or 0) >= 500:
            raise AdapterUnavailable(message, details) from exc
        raise AdapterError(message, details) from exc
    except (HTTPError, OSError) as exc:
        raise AdapterUnavailable(
            f"kubernetes API unreachable during {what}: {exc.__class__.__name__}",
            {"operation": what},
        ) from exc


class KubeClusterApi:
    """ClusterApi on `kubernetes.client.ApiClient`; raw JSON in and out, no model classes."""

    def __init__(
        self, api_client: Any, *, request_timeout_s: float = 30.0, manage_namespaces: bool = True
    ) -> None:
        from kubernetes import client

        self.api_client = api_client
        self.apps = client.AppsV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.timeout = request_timeout_s
        self.manage_namespaces = manage_namespaces

    @classmethod
    def from_kubeconfig(cls, path: str | None = None, context: str | None = None) -> KubeClusterApi:
        """Build from a kubeconfig file (KUBECONFIG or ~/.kube/config by default); inside a pod
        with neither, from its service account (the namespace is then infra's, not ours)."""
        from kubernetes import client, config

        if path is None and in_cluster():
            conf = client.Configuration()
            try:
                config.load_incluster_config(client_configuration=conf)  # type: ignore[no-untyped-call]
            except config.ConfigException as exc:
                raise AdapterError(f"cannot load the in-cluster config: {exc}") from exc
            return cls(client.ApiClient(conf), manage_namespaces=False)
        try:
            api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=path, context=context
            )
        except (config.ConfigException, OSError) as exc:
            raise AdapterError(f"cannot load kubeconfig: {exc}", {"path": path}) from exc
        return cls(api_client)

    @classmethod
    def from_endpoint(cls, host: str, token: str, ca_cert_path: str | None) -> KubeClusterApi:
        """Build for a cluster endpoint with a bearer token (EKS/GKE credentials)."""
        from kubernetes import client

        conf = client.Configuration()
        conf.host = host
        conf.api_key = {"authorization": token}
        conf.api_key_prefix = {"authorization": "Bearer"}
        conf.ssl_ca_cert = ca_cert_path
        conf.verify_ssl = ca_cert_path is not None or not host.startswith("https")
        return cls(client.ApiClient(conf))

    def ensure_namespace(self, namespace: str) -> None:
        """Create the namespace unless it exists (409 from a racing creator is fine)."""
        from kubernetes.client.exceptions import ApiException

        if not self.manage_namespaces:  # namespaces made by infra (RBAC may forbid reading them)
            return
        with translated(f"reading namespace {namespace}"):
            try:
                self.core.read_namespace(namespace, _request_timeout=self.timeout)
                return
            except ApiException as exc:
                if exc.status != 404:
                    raise
            try:
                body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
                # The client serializes plain dicts as-is; its stubs only name the model class.
                self.core.create_namespace(body, _request_timeout=self.timeout)  # type: ignore[arg-type]
            except ApiException as exc:
                if exc.status != 409:
                    raise

    def read_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        """GET the Deployment as JSON; None on 404."""
        from kubernetes.client.exceptions import ApiException

        with translated(f"reading deployment {namespace}/{name}"):
            try:
                response = self.apps.read_namespaced_deployment(
                    name, namespace, _preload_content=False, _request_timeout=self.timeout
                )
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise
            return _json(response)

    def create_deployment(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a full Deployment manifest."""
        with translated(f"creating deployment {namespace}/{body['metadata']['name']}"):
            response = self.apps.create_namespaced_deployment(
                namespace,
                body,  # type: ignore[arg-type]  # plain dicts are sent as-is
                _preload_content=False,
                _request_timeout=self.timeout,
            )
            return _json(response)

    def patch_deployment(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """PATCH with merge-patch+json, so lists (containers) are replaced whole, predictably."""
        with translated(f"patching deployment {namespace}/{name}"):
            response = self.apps.patch_namespaced_deployment(
                name, namespace, patch, _content_type=MERGE_PATCH, _preload_content=False,
                _request_timeout=self.timeout,
            )  # fmt: skip
            return _json(response)

    def ensure_service(self, namespace: str, body: dict[str, Any]) -> None:
        """POST the Service; one that exists already (409) is kept as it is."""
        from kubernetes.client.exceptions import ApiException

        with translated(f"creating service {namespace}/{body['metadata']['name']}"):
            try:
                self.core.create_namespaced_service(
                    namespace,
                    body,  # type: ignore[arg-type]  # plain dicts are sent as-is
                    _preload_content=False,
                    _request_timeout=self.timeout,
                )
            except ApiException as exc:
                if exc.status != 409:
                    raise

    def apply_object(self, body: dict[str, Any]) -> None:
        """POST the object; when it exists (409) merge-patch it to the body, like `kubectl apply`
        without pruning. Namespaces are left alone when infra manages them."""
        from kubernetes.client.exceptions import ApiException

        kind, meta = body["kind"], body["metadata"]
        if kind == "Namespace" and not self.manage_namespaces:
            return
        collection = collection_path(body)
        with translated(
            f"applying {kind} {meta.get('namespace', '')}/{meta['name']}".replace(" /", " ")
        ):
            try:
                self._call(collection, "POST", body, "application/json")
            except ApiException as exc:
                if exc.status != 409:
                    raise
                self._call(f"{collection}/{meta['name']}", "PATCH", body, MERGE_PATCH)

    def _call(self, path: str, method: str, body: dict[str, Any], content_type: str) -> None:
        """One request to a generic REST path; a non-2xx answer raises ApiException."""
        from kubernetes.client.exceptions import ApiException

        headers = {"Content-Type": content_type, "Accept": "application/json"}
        request = self.api_client.param_serialize(
            method=method, resource_path=path, header_params=headers, body=body,
            auth_settings=["BearerToken"],
        )  # fmt: skip
        method_, url, headers_, body_, post = request
        response = self.api_client.call_api(
            method_, url, header_params=headers_, body=body_, post_params=post,
            _request_timeout=self.timeout,
        )  # fmt: skip
        response.read()
        if not 200 <= response.status <= 299:
            raise ApiException(http_resp=response)

    def list_pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """GET the pods matching a label selector."""
        with translated(f"listing pods {selector} in {namespace}"):
            response = self.core.list_namespaced_pod(
                namespace, label_selector=selector, _preload_content=False,
                _request_timeout=self.timeout,
            )  # fmt: skip
            items: list[dict[str, Any]] = _json(response).get("items") or []
            return items

    def read_pod_log(
        self, namespace: str, name: str, *, tail_lines: int | None, since_seconds: int | None
    ) -> str:
        """GET the pod's log with timestamps; a pod gone meanwhile is NotFound."""
        from kubernetes.client.exceptions import ApiException

        limits: dict[str, Any] = {"tail_lines": tail_lines, "since_seconds": since_seconds}
        with translated(f"reading the log of pod {namespace}/{name}"):
            try:
                response: Any = self.core.read_namespaced_pod_log(
                    name, namespace, timestamps=True, _preload_content=False,
                    _request_timeout=self.timeout,
                    **{k: v for k, v in limits.items() if v is not None},
                )  # fmt: skip
            except ApiException as exc:
                if exc.status == 404:
                    raise NotFound(f"pod {namespace}/{name} is gone", {"pod": name}) from exc
                raise
            text: str = response.data.decode(errors="replace")
            return text


def collection_path(body: dict[str, Any]) -> str:
    """The REST collection of an object: /api/v1/namespaces/<ns>/services, /apis/<g>/<v>/..."""
    version = body["apiVersion"]
    prefix = "/api/v1" if version == "v1" else f"/apis/{version}"
    kind = body["kind"].lower()
    plural = (
        kind[:-1] + "ies" if kind.endswith("y") else kind + ("es" if kind.endswith("s") else "s")
    )
    if body["kind"] == "Namespace":
        return f"{prefix}/namespaces"
    return f"{prefix}/namespaces/{body['metadata']['namespace']}/{plural}"


def _json(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response.data)
    return body
