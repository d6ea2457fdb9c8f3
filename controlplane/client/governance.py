"""Calls about what may happen: decisions, policy, signals, actions, approvals, identity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, cast

from controlplane.client.transport import Transport
from controlplane.client_types import (
    ActionOut,
    ApprovalOut,
    DecisionOut,
    DriftReportAccepted,
    IdentityOut,
    OverrideCleared,
    OverrideOut,
    PolicyInfo,
    SignalsOut,
    TokenIssued,
    TokenOut,
    WhoAmI,
)


class GovernanceCalls(Transport):
    """Decide, read and raise signals, follow governed actions, vote, manage tokens."""

    # -- decisions and policy --------------------------------------------------------------

    def decide(
        self,
        operation: str,
        environment: str,
        service: str | None = None,
        context: Mapping[str, Any] | None = None,
        *,
        dry_run: bool = False,
    ) -> DecisionOut:
        """Ask for a mode (recorded in the audit log unless dry-run)."""
        body = {
            "operation": operation,
            "environment": environment,
            "service": service,
            "context": dict(context or {}),
            "dry_run": dry_run,
        }
        return cast(DecisionOut, self._request("POST", "/v1/decisions", json=body))

    def get_decision(self, decision_id: str) -> dict[str, Any]:
        """A recorded decision, as its audit line."""
        return cast(dict[str, Any], self._request("GET", f"/v1/decisions/{decision_id}"))

    def policies(self) -> PolicyInfo:
        """The policy in force: version, base modes per operation and environment."""
        return cast(PolicyInfo, self._request("GET", "/v1/policies"))

    # -- risk signals and drift --------------------------------------------------------------

    def signals(self, service: str | None = None, environment: str | None = None) -> SignalsOut:
        """Every signal's current reading for a service and environment (unset: all)."""
        params = {k: v for k, v in {"service": service, "environment": environment}.items() if v}
        return cast(SignalsOut, self._request("GET", "/v1/signals", params=params or None))

    def set_signal(
        self,
        name: str,
        *,
        ttl: str,
        reason: str,
        state: Literal["active", "inactive"] = "active",
        service: str | None = None,
        environment: str | None = None,
    ) -> OverrideOut | ActionOut:
        """Raise a signal for `ttl` (45s, 30m, 2h, 1d) with a reason, or ask to suppress it
        (`inactive`): a suppression waits for humans (an ActionOut, status pending_approval)."""
        body = {
            "state": state,
            "ttl": ttl,
            "reason": reason,
            "service": service,
            "environment": environment,
        }
        return cast(OverrideOut, self._request("PUT", f"/v1/signals/{name}", json=body))

    def clear_signal(
        self, name: str, service: str | None = None, environment: str | None = None
    ) -> OverrideCleared | ActionOut:
        """Clear live overrides (one's own raise, or a suppression: at once; someone else's
        raise: signal.suppress, which waits for humans)."""
        params = {k: v for k, v in {"service": service, "environment": environment}.items() if v}
        return cast(
            OverrideCleared, self._request("DELETE", f"/v1/signals/{name}", params=params or None)
        )

    def post_drift_report(self, report: Mapping[str, Any]) -> DriftReportAccepted:
        """Send a drift job's report; drift_severe follows each reporter's newest one."""
        return cast(
            DriftReportAccepted, self._request("POST", "/v1/drift-reports", json=dict(report))
        )

    def reset_drift_baseline(self, service: str, reason: str) -> ActionOut | dict[str, Any]:
        """Ask that drift reports so far stop counting for a service (drift.baseline.update)."""
        body = {"service": service, "reason": reason}
        return cast(dict[str, Any], self._request("POST", "/v1/drift-baselines", json=body))

    # -- governed actions --------------------------------------------------------------------

    def actions(
        self, kind: str | None = None, status: str | None = None, limit: int | None = None
    ) -> list[ActionOut]:
        """Governed actions (overrides, suppressions, incidents, tokens...), newest first."""
        filters = {"kind": kind, "status": status, "limit": limit}
        params = {k: v for k, v in filters.items() if v is not None}
        return cast(list[ActionOut], self._request("GET", "/v1/actions", params=params)["data"])

    def get_action(self, action_id: str) -> ActionOut:
        """One governed action with its decision, approval progress and outcome."""
        return cast(ActionOut, self._request("GET", f"/v1/actions/{action_id}"))

    # -- approvals ---------------------------------------------------------------------------

    def approvals(self, status: str | None = None) -> list[ApprovalOut]:
        """Approval requests, oldest first (pending, approved, rejected, expired, voided)."""
        params = {"status": status} if status else None
        page = self._request("GET", "/v1/approvals", params=params)
        return cast(list[ApprovalOut], page["data"])

    def get_approval(self, approval_id: str) -> ApprovalOut:
        """One approval request with its votes."""
        return cast(ApprovalOut, self._request("GET", f"/v1/approvals/{approval_id}"))

    def approve(self, approval_id: str, comment: str = "") -> ApprovalOut:
        """Approve as a human approver (not the requester); reaching quorum runs the change."""
        path = f"/v1/approvals/{approval_id}/approve"
        return cast(ApprovalOut, self._request("POST", path, json={"comment": comment}))

    def reject(self, approval_id: str, comment: str) -> ApprovalOut:
        """Reject with a reason; the request ends."""
        path = f"/v1/approvals/{approval_id}/reject"
        return cast(ApprovalOut, self._request("POST", path, json={"comment": comment}))

    # -- identity ----------------------------------------------------------------------------

    def whoami(self) -> WhoAmI:
        """Who this client's token belongs to."""
        return cast(WhoAmI, self._request("GET", "/v1/whoami"))

    def create_token(
        self,
        name: str,
        kind: str = "human",
        roles: list[str] | None = None,
        ttl_hours: float | None = None,
    ) -> TokenIssued:
        """Issue a token (admin only); the secret is in the answer and nowhere else."""
        body = {"name": name, "kind": kind, "roles": roles or ["viewer"], "ttl_hours": ttl_hours}
        return cast(TokenIssued, self._request("POST", "/v1/tokens", json=body))

    def identities(self) -> list[IdentityOut]:
        """Every identity (admin only)."""
        return cast(list[IdentityOut], self._request("GET", "/v1/identities"))

    def tokens(self) -> list[TokenOut]:
        """Every token, without secrets (admin only)."""
        return cast(list[TokenOut], self._request("GET", "/v1/tokens"))

    def revoke_token(self, token_id: str, reason: str) -> dict[str, Any]:
        """Revoke a token at once (admin; token.revoke)."""
        path = f"/v1/tokens/{token_id}/revoke"
        return cast(dict[str, Any], self._request("POST", path, json={"reason": reason}))

    def set_identity_disabled(self, name: str, disabled: bool, reason: str) -> dict[str, Any]:
        """Disable (all its tokens refused at once) or enable an identity (admin)."""
        path = f"/v1/identities/{name}/{'disable' if disabled else 'enable'}"
        return cast(dict[str, Any], self._request("POST", path, json={"reason": reason}))
