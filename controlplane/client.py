"""A small typed sync client for the plane's HTTP API (what the CLI and agents use).

It imports no FastAPI, database or domain service code, so an agent can depend on it alone.
Errors come back as the same `controlplane.errors` classes the plane raised.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, cast

import httpx

from controlplane.client_types import (
    RUN_MOVING,
    RUNNING,
    ActionOut,
    ActionsOut,
    ApprovalOut,
    AuditPage,
    DecisionOut,
    DecisionSignal,
    DeploymentOut,
    DriftReportAccepted,
    GateResultOut,
    IdentityOut,
    IncidentOut,
    OverrideCleared,
    OverrideOut,
    PolicyInfo,
    ReleaseDetailOut,
    ReleaseOut,
    ReleasesOut,
    SchemaRefOut,
    ServiceLogsOut,
    ServiceStatusOut,
    SignalOut,
    SignalsOut,
    TokenIssued,
    TokenOut,
    UnusableReleaseOut,
    VerifyOut,
    VoteOut,
    WhoAmI,
)
from controlplane.errors import (
    ControlPlaneError,
    InvalidRequest,
    Unauthenticated,
    Unavailable,
    all_error_classes,
)

DEFAULT_URL = "http://127.0.0.1:8700"
DEFAULT_TIMEOUT_S = 10.0
START_HINT = "is the plane running? start it with `opsctl up`"
TOKEN_ENV = "CONTROLPLANE_TOKEN"
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")  # visible ASCII: what a bearer header can carry
_WILDCARD_HOSTS = {"0.0.0.0", "::", ""}


def default_url(env: Mapping[str, str]) -> str:
    """CONTROLPLANE_URL, else the address `opsctl up` listens on with the same environment."""
    if env.get("CONTROLPLANE_URL"):
        return env["CONTROLPLANE_URL"].rstrip("/")
    host = env.get("CONTROLPLANE_HOST", "127.0.0.1")
    host = "127.0.0.1" if host in _WILDCARD_HOSTS else host
    port = env.get("CONTROLPLANE_PORT")
    if port is None and host == "127.0.0.1":
        return DEFAULT_URL
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port or 8700}"


def admin_token_path(env: Mapping[str, str]) -> Path:
    """Where the first `opsctl up` leaves the admin token for the local CLI."""
    return Path(env.get("CONTROLPLANE_STATE_DIR") or ".controlplane") / "admin.token"


def _timeout_from(env: Mapping[str, str], default: float) -> float:
    """CONTROLPLANE_TIMEOUT (seconds per HTTP request), else the default; never the outcome."""
    raw = env.get("CONTROLPLANE_TIMEOUT", "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:  # also NaN
        raise InvalidRequest(
            f"CONTROLPLANE_TIMEOUT={raw!r} is not a number of seconds above 0",
            {"field": "CONTROLPLANE_TIMEOUT", "reason": "expected seconds, e.g. 10 or 2.5"},
        )
    return value


def _read_token_file(path: Path) -> str | None:
    """The token in a file, or None when the file is missing or unreadable."""
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def token_from_env(env: Mapping[str, str]) -> tuple[str | None, str]:
    """CONTROLPLANE_TOKEN without surrounding whitespace, else the admin token file; and where.

    A set but empty CONTROLPLANE_TOKEN is an error, never a silent fall back to the admin token.
    """
    raw = env.get(TOKEN_ENV)
    if raw is None:
        path = admin_token_path(env)
        return _read_token_file(path), str(path)
    token = raw.strip()
    if not token:
        raise Unauthenticated(
            f"{TOKEN_ENV} is set but empty; set it to a token, or unset it to use "
            f"{admin_token_path(env)}",
            {"token": f"empty {TOKEN_ENV}"},
        )
    return token, TOKEN_ENV


def check_token(token: str, source: str) -> None:
    """Refuse a token no HTTP header can carry, naming where it came from but never the token."""
    if _TOKEN_CHARS.fullmatch(token):
        return
    bad = next(i for i, c in enumerate(token) if not _TOKEN_CHARS.fullmatch(c))
    kind = "whitespace" if token[bad].isspace() else "a character outside visible ASCII"
    raise Unauthenticated(
        f"the token from {source} holds {kind} at position {bad + 1}, so it cannot be sent; "
        "check for a stray newline, quote or paste error",
        {"token": f"from {source}"},
    )


def error_from_response(response: httpx.Response) -> ControlPlaneError:
    """Turn an error response back into the error class the plane raised."""
    try:
        body = response.json()
        error = body["error"]
        code, message = str(error["code"]), str(error["message"])
        details = error.get("details") or {}
    except (ValueError, KeyError, TypeError):
        code, message = "", response.text.strip()[:500] or response.reason_phrase
        details = {}
    cls = _error_class(code, response.status_code)
    return cls(message, details if isinstance(details, dict) else {"details": details})


_REMOTE_CLASSES: dict[tuple[str, int], type[ControlPlaneError]] = {}


def _error_class(code: str, status: int) -> type[ControlPlaneError]:
    """The class for a code; codes outside the tree get a subclass of the class for the status."""
    known = all_error_classes()
    if code in known:
        return known[code]
    by_status = {c.status: c for c in known.values() if c.__bases__[0] is ControlPlaneError}
    base = by_status.get(status, ControlPlaneError)
    if not code:
        return base
    key = (code, status)
    if key not in _REMOTE_CLASSES:
        name = "Remote_" + "".join(c if c.isalnum() else "_" for c in code)
        _REMOTE_CLASSES[key] = type(name, (base,), {"code": code, "status": status})
    return _REMOTE_CLASSES[key]


class ControlPlaneClient:
    """One method per endpoint; returns decoded JSON, raises `ControlPlaneError` subclasses."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        *,
        token_source: str | None = None,
        token_hint: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.token_source = token_source
        self._token_hint = token_hint or f"set {TOKEN_ENV}"
        headers = {"User-Agent": "opsctl/0.1", "Accept": "application/json"}
        if token:
            check_token(token, token_source or "the caller")
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT_S
    ) -> ControlPlaneClient:
        """Build from CONTROLPLANE_URL / CONTROLPLANE_TOKEN, else the local admin token file."""
        env = os.environ if env is None else env
        timeout = _timeout_from(env, timeout)
        token, source = token_from_env(env)
        hint = f"set {TOKEN_ENV}, or run `opsctl up` here once to create {source}"
        return cls(
            default_url(env),
            token,
            timeout,
            token_source=source if token else None,
            token_hint=None if token else hint,
        )

    def __enter__(self) -> ControlPlaneClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    # -- transport -------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one request and decode the JSON answer, or raise the plane's error."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code >= 400:
            raise self._explain(error_from_response(response))
        return response.json()

    def _unreachable(self, exc: httpx.TransportError) -> Unavailable:
        """Say plainly that the plane could not be reached, and how to start it."""
        if isinstance(exc, httpx.LocalProtocolError):  # its text quotes the offending header
            what = f"the request to {self.url} could not be sent: a header value is invalid"
            return Unavailable(what, {"url": self.url, "cause": type(exc).__name__})
        if isinstance(exc, httpx.TimeoutException):
            what = f"the control plane at {self.url} did not answer in time"
        else:
            what = f"cannot reach the control plane at {self.url}"
        return Unavailable(
            f"{what}; {START_HINT}", {"url": self.url, "cause": self._hide(repr(exc))}
        )

    def _hide(self, text: str) -> str:
        """Text with this client's token masked, so no error ever shows it."""
        return text.replace(self.token, "***") if self.token else text

    def _explain(self, error: ControlPlaneError) -> ControlPlaneError:
        """Add where credentials come from to a 401, since that is the usual fix."""
        if isinstance(error, Unauthenticated):
            where = (
                f"from {self.token_source}" if self.token_source else f"none: {self._token_hint}"
            )
            error.details.setdefault("token", where)
        return error

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

    def wait_for_deployment(
        self,
        deployment_id: str,
        *,
        timeout_s: float | None = None,
        poll_s: float = 0.5,
        on_update: Callable[[DeploymentOut], None] | None = None,
    ) -> DeploymentOut:
        """Follow a deployment the plane runs off the request until it leaves approved/executing
        (finished, or waiting for humans again) or `timeout_s` passes; return the last state.

        The plane decides the outcome, not this wait: a poll the plane does not answer in time is
        retried, and a timeout only stops following (the deployment goes on).
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        dep: DeploymentOut | None = None
        while True:
            try:
                dep = self.get_deployment(deployment_id)
            except Unavailable:
                if dep is None and deadline is not None and time.monotonic() > deadline:
                    raise
            else:
                if on_update is not None:
                    on_update(dep)
                if dep["status"] not in RUNNING:
                    return dep
            if deadline is not None and time.monotonic() >= deadline and dep is not None:
                return dep
            time.sleep(poll_s)

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

    def wait_for_run(
        self,
        run_id: str,
        *,
        timeout_s: float | None = None,
        poll_s: float = 0.5,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Follow a run until it ends or pauses for humans, or `timeout_s` passes."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        run: dict[str, Any] | None = None
        while True:
            try:
                run = self.get_run(run_id)
            except Unavailable:
                if run is None and deadline is not None and time.monotonic() > deadline:
                    raise
            else:
                if on_update is not None:
                    on_update(run)
                if run["status"] not in RUN_MOVING:
                    return run
            if deadline is not None and time.monotonic() >= deadline and run is not None:
                return run
            time.sleep(poll_s)

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


__all__ = [
    "ActionOut",
    "ActionsOut",
    "ApprovalOut",
    "AuditPage",
    "ControlPlaneClient",
    "DecisionOut",
    "DecisionSignal",
    "DeploymentOut",
    "DriftReportAccepted",
    "GateResultOut",
    "IdentityOut",
    "IncidentOut",
    "OverrideCleared",
    "OverrideOut",
    "PolicyInfo",
    "ReleaseDetailOut",
    "ReleaseOut",
    "ReleasesOut",
    "SchemaRefOut",
    "ServiceStatusOut",
    "SignalOut",
    "SignalsOut",
    "TokenIssued",
    "TokenOut",
    "UnusableReleaseOut",
    "VerifyOut",
    "VoteOut",
    "WhoAmI",
    "error_from_response",
]
