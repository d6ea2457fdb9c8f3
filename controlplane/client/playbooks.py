"""Calls that run playbooks: slash commands, runs, cancel and resume."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from controlplane.client.transport import Transport


class PlaybookCalls(Transport):
    """Start playbooks by name or as slash commands, read, cancel and resume their runs."""

    # -- playbooks ------------------------------------------------------------------------

    def playbooks(self) -> dict[str, Any]:
        """Every loaded playbook with its inputs and steps."""
        return cast(dict[str, Any], self._request("GET", "/v1/playbooks"))

    def command(self, text: str, *, dry_run: bool = False, via: str = "api") -> dict[str, Any]:
        """Run a slash command (`/rollback bankchurn env=production`): a run, a plan or usage."""
        body = {"text": text, "dry_run": dry_run, "via": via}
        return cast(dict[str, Any], self._request("POST", "/v1/commands", json=body))

    def start_run(
        self, playbook: str, inputs: Mapping[str, str | int | bool], *, dry_run: bool = False
    ) -> dict[str, Any]:
        """Start a playbook by name with named inputs (or plan it with `dry_run`)."""
        body = {"playbook": playbook, "inputs": dict(inputs), "dry_run": dry_run}
        return cast(dict[str, Any], self._request("POST", "/v1/runs", json=body))

    def runs(
        self, *, playbook: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Runs, newest first."""
        params = {k: v for k, v in (("playbook", playbook), ("status", status)) if v}
        page = self._request("GET", "/v1/runs", params={**params, "limit": limit})
        return cast(list[dict[str, Any]], page["data"])

    def get_run(self, run_id: str) -> dict[str, Any]:
        """One run with its step timeline."""
        return cast(dict[str, Any], self._request("GET", f"/v1/runs/{run_id}"))

    def cancel_run(self, run_id: str, reason: str, *, compensate: bool = False) -> dict[str, Any]:
        """Cancel a run: its running step finishes; `compensate` undoes finished steps."""
        body = {"reason": reason, "compensate": compensate}
        return cast(dict[str, Any], self._request("POST", f"/v1/runs/{run_id}/cancel", json=body))

    def resume_run(self, run_id: str) -> dict[str, Any]:
        """Continue a failed run (or one whose approval expired) from the step that stopped."""
        return cast(dict[str, Any], self._request("POST", f"/v1/runs/{run_id}/resume"))
