"""Calls about releases and where they run: deployments, services, logs, releases, schemas."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from controlplane.client.transport import Transport
from controlplane.client_types import (
    DeploymentOut,
    ReleaseDetailOut,
    ReleasesOut,
    SchemaRefOut,
    ServiceLogsOut,
    ServiceStatusOut,
)


class DeliveryCalls(Transport):
    """Ask for deployments and read what runs where; list releases and hand-off schemas."""

    # -- deployments and services ------------------------------------------------------------

    def deploy(
        self,
        service: str,
        environment: str,
        release: str,
        *,
        release_tag: str | None = None,
        commit_sha: str | None = None,
        commit_time: str | None = None,
        security_audit: Mapping[str, Any] | None = None,
        reason: str | None = None,
        changes: list[str] | None = None,
    ) -> DeploymentOut:
        """Ask to deploy a release; the plane answers at once: `approved` (AUTO: its worker rolls
        it out; follow with `wait_for_deployment`) or `pending_approval` (CONSULT/STOP).

        A refusal raises the plane's `gates_refused` error (409) with details.failed_gates and
        details.retry_after; a broken invariant raises `InvalidSpec` (422).
        """
        body: dict[str, Any] = {"service": service, "environment": environment, "release": release}
        optional = {
            "release_tag": release_tag,
            "commit_sha": commit_sha,
            "commit_time": commit_time,
            "security_audit": dict(security_audit) if security_audit is not None else None,
            "reason": reason,
            "changes": changes,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return cast(DeploymentOut, self._request("POST", "/v1/deployments", json=body))

    def deployments(
        self,
        service: str | None = None,
        environment: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[DeploymentOut]:
        """Deployments, newest first."""
        filters = {"service": service, "environment": environment, "status": status, "limit": limit}
        params = {k: v for k, v in filters.items() if v is not None}
        page = self._request("GET", "/v1/deployments", params=params)
        return cast(list[DeploymentOut], page["data"])

    def get_deployment(self, deployment_id: str) -> DeploymentOut:
        """One deployment with its decision, gates, approvals and health."""
        return cast(DeploymentOut, self._request("GET", f"/v1/deployments/{deployment_id}"))

    def service_logs(
        self,
        service: str,
        environment: str,
        *,
        release: str | None = None,
        tail: int | None = None,
        after: str | None = None,
    ) -> ServiceLogsOut:
        """A service's log lines (secrets masked); pass the answer's cursor as `after` to
        read only newer lines (operator role)."""
        filters = {"release": release, "tail": tail, "after": after}
        params = {k: v for k, v in filters.items() if v is not None}
        path = f"/v1/services/{service}/{environment}/logs"
        return cast(ServiceLogsOut, self._request("GET", path, params=params))

    def services(self) -> list[ServiceStatusOut]:
        """Per service and environment: the live release, health, since when, where."""
        return cast(list[ServiceStatusOut], self._request("GET", "/v1/services"))

    # -- releases and hand-off schemas --------------------------------------------------------

    def releases(self, service: str | None = None) -> ReleasesOut:
        """Deployable releases, newest first, and bundles that failed verification."""
        params = {"service": service} if service else None
        return cast(ReleasesOut, self._request("GET", "/v1/releases", params=params))

    def get_release(self, service: str, digest: str) -> ReleaseDetailOut:
        """One release, re-verified by the plane, with its SecurityAuditResult."""
        digest = digest.removeprefix("sha256:")
        return cast(ReleaseDetailOut, self._request("GET", f"/v1/releases/{service}/{digest}"))

    def schemas(self) -> list[SchemaRefOut]:
        """The hand-off models the plane accepts."""
        return cast(list[SchemaRefOut], self._request("GET", "/v1/schemas")["data"])

    def schema(self, name: str) -> dict[str, Any]:
        """The JSON Schema of one hand-off model (e.g. DeploymentRequest)."""
        return cast(dict[str, Any], self._request("GET", f"/v1/schemas/{name}"))

    # -- health ------------------------------------------------------------------------------

    def healthz(self) -> dict[str, Any]:
        """Liveness."""
        return cast(dict[str, Any], self._request("GET", "/healthz"))

    def readyz(self) -> dict[str, Any]:
        """Readiness checks (raises `Unavailable` when not ready)."""
        return cast(dict[str, Any], self._request("GET", "/readyz"))

    def metrics(self) -> str:
        """The plane's Prometheus metrics, in the text exposition format."""
        return self._send("GET", "/metrics").text
