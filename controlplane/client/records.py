"""Calls about what happened: incidents and their timelines, DORA, the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, cast

import httpx

from controlplane.client.transport import Transport, error_from_response
from controlplane.client_types import ActionOut, AuditPage, IncidentOut, VerifyOut


class RecordCalls(Transport):
    """Open, annotate and resolve incidents; DORA; page, verify and export the audit log."""

    # -- incidents ---------------------------------------------------------------------------

    def open_incident(
        self,
        severity: str,
        title: str,
        service: str | None = None,
        source: str = "manual",
        environment: str | None = None,
    ) -> IncidentOut:
        """Open an incident (P1/P2 turn incident_active on; unset environment: all of them)."""
        body = {
            "severity": severity,
            "title": title,
            "service": service,
            "source": source,
            "environment": environment,
        }
        return cast(IncidentOut, self._request("POST", "/v1/incidents", json=body))

    def incidents(self, status: Literal["open", "resolved"] | None = None) -> list[IncidentOut]:
        """Incidents, newest first."""
        params = {"status": status} if status else None
        page = self._request("GET", "/v1/incidents", params=params)
        return cast(list[IncidentOut], page["data"])

    def incident(self, incident_id: str) -> dict[str, Any]:
        """One incident with its alerts and timeline."""
        return cast(dict[str, Any], self._request("GET", f"/v1/incidents/{incident_id}"))

    def note_incident(self, incident_id: str, text: str) -> dict[str, Any]:
        """Add a line to an incident's timeline."""
        path = f"/v1/incidents/{incident_id}/notes"
        return cast(dict[str, Any], self._request("POST", path, json={"text": text}))

    def update_incident(self, incident_id: str, **change: Any) -> dict[str, Any]:
        """Link the causing deployment (`deployment_id`), `mitigated=True`, or raise `severity`."""
        body = {k: v for k, v in change.items() if v is not None}
        path = f"/v1/incidents/{incident_id}"
        return cast(dict[str, Any], self._request("PATCH", path, json=body))

    def resolve_incident(self, incident_id: str, resolution: str) -> IncidentOut | ActionOut:
        """Close an incident with what fixed it (incident.resolve: may wait for a human)."""
        path = f"/v1/incidents/{incident_id}/resolve"
        return cast(IncidentOut, self._request("POST", path, json={"resolution": resolution}))

    # -- dora --------------------------------------------------------------------------------

    def dora(
        self, window: int = 30, service: str | None = None, bands: str | None = None
    ) -> dict[str, Any]:
        """DORA keys of production over 7, 30 or 90 days: overall, by requester, by service."""
        params = {"window": window, "service": service, "bands": bands}
        kept = {k: v for k, v in params.items() if v is not None}
        return cast(dict[str, Any], self._request("GET", "/v1/dora", params=kept))

    # -- audit -------------------------------------------------------------------------------

    def audit(self, **filters: str | int | None) -> AuditPage:
        """One page of the audit log (actor, operation, environment, service, result, since,
        until, cursor, limit, order)."""
        params = {k: v for k, v in filters.items() if v is not None}
        return cast(AuditPage, self._request("GET", "/v1/audit", params=params))

    def verify_audit(self) -> VerifyOut:
        """Have the plane walk its whole chain and checkpoints."""
        return cast(VerifyOut, self._request("GET", "/v1/audit/verify"))

    def export_audit(self) -> Iterator[str]:
        """Stream the whole log as JSONL lines (without trailing newlines)."""
        try:
            with self._http.stream("GET", "/v1/audit/export") as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._explain(error_from_response(response))
                for line in response.iter_lines():
                    if line:
                        yield line
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
