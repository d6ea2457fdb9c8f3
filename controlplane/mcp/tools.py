"""The MCP tools: each one call (or a short follow) through the HTTP client, never the services.

Read tools and request tools only: there is no approve tool and no tool that lowers a signal.
A plane refusal becomes a tool error carrying the plane's own explanation.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from controlplane.client import ControlPlaneClient
from controlplane.errors import ControlPlaneError, NotFound
from controlplane.mcp import answers
from controlplane.mcp.annotations import ToolSpec

Env = Annotated[str, Field(description="dev | staging | production")]
OptService = Annotated[
    str | None, Field(description="bankchurn | chicagotaxi | nlpinsight; unset: all")
]
WaitS = Annotated[
    float, Field(ge=0, le=120, description="seconds to follow an AUTO change before answering")
]
Kind = Literal["deployment", "run", "action"]
NO_DORA = "DORA is not available on this plane"


@contextmanager
def plane_errors() -> Iterator[None]:
    """A refusal of the plane as a tool error with its reasons (the model reads them)."""
    try:
        yield
    except ControlPlaneError as exc:
        raise ToolError(exc.diagnostics()) from exc


def _read(name: str, title: str) -> ToolSpec:
    return ToolSpec(name, title, read_only=True)


class PlaneTools:
    """The tools, bound to one client (one agent identity)."""

    def __init__(self, client: ControlPlaneClient, playbook_ops: tuple[str, ...] = ()) -> None:
        self.client = client
        self.playbook_ops = playbook_ops

    def table(self) -> list[tuple[ToolSpec, Callable[..., Any]]]:
        """Every tool with the operations it can ask for (the annotations come from these)."""
        return [
            (_read("decide", "Ask for a mode"), self.decide),
            (ToolSpec("request_deployment", "Request a deployment", ("deploy",)), self.deploy),
            (ToolSpec("run_playbook", "Run a playbook", self.playbook_ops), self.run_playbook),
            (_read("get_run", "Show a playbook run"), self.get_run),
            (_read("get_request_status", "Status of a request"), self.status),
            (_read("list_signals", "Risk signals"), self.list_signals),
            (_read("list_pending_approvals", "Waiting approvals"), self.pending),
            (_read("get_dora", "DORA metrics"), self.get_dora),
            (_read("query_audit", "Query the audit log"), self.query_audit),
        ]

    def _approval(self, approval_id: str | None) -> dict[str, Any] | None:
        """The approval request behind a pending answer (its expiry), if it can be read."""
        if not approval_id:
            return None
        try:
            return dict(self.client.get_approval(approval_id))
        except ControlPlaneError:
            return None

    def decide(
        self,
        operation: Annotated[str, Field(description="e.g. deploy, rollback, scale, ci.autofix")],
        environment: Env,
        service: OptService = None,
        context: Annotated[
            dict[str, Any] | None, Field(description="facts the policy's rules read")
        ] = None,
    ) -> dict[str, Any]:
        """Ask the plane which mode an operation gets (AUTO, CONSULT or STOP) and why, before
        acting. Recorded in the audit log under this agent; changes nothing."""
        with plane_errors():
            decision = self.client.decide(operation, environment, service, context or {})
        return answers.decision_answer(decision)

    def deploy(
        self,
        service: Annotated[str, Field(description="bankchurn | chicagotaxi | nlpinsight")],
        environment: Env,
        release: Annotated[str, Field(description="<service>@sha256:<64 hex>")],
        release_tag: Annotated[str | None, Field(description="v1.2.3; production")] = None,
        commit_sha: str | None = None,
        security_audit: Annotated[
            dict[str, Any] | None, Field(description="CI-signed SecurityAuditResult")
        ] = None,
        reason: str | None = None,
        wait_s: WaitS = 30,
    ) -> dict[str, Any]:
        """Ask the plane to deploy a release. AUTO rolls out (followed for wait_s seconds);
        CONSULT/STOP answers pending_approval with the request id, quorum and expiry: humans
        approve, never this agent. Refused gates come back as an error with the reasons.
        Without security_audit, a release the plane built carries its own signed audit."""
        with plane_errors():
            if security_audit is None and environment.lower() not in ("dev", "local"):
                security_audit = self._own_audit(service, release)
            dep: Any = self.client.deploy(
                service,
                environment,
                release,
                release_tag=release_tag,
                commit_sha=commit_sha,
                security_audit=security_audit,
                reason=reason,
            )
            if dep["status"] in ("approved", "executing") and wait_s > 0:
                dep = self.client.wait(dep, timeout_s=wait_s, poll_s=0.2)
            return answers.deployment_answer(dep, self._approval(dep.get("approval_id")))

    def _own_audit(self, service: str, release: str) -> dict[str, Any] | None:
        """The plane's own signed audit of a release it built, if it has one."""
        digest = release.partition("@sha256:")[2]
        if not digest:
            return None
        try:
            return dict(self.client.get_release(service, digest)["security_audit"])
        except ControlPlaneError:
            return None  # an image: the caller's CI-signed audit is needed, the plane says so

    def run_playbook(
        self,
        playbook: Annotated[str, Field(description="rollback, incident, drift-check, retrain...")],
        inputs: Annotated[
            dict[str, str | int | bool] | None, Field(description="named inputs, e.g. service")
        ] = None,
        dry_run: Annotated[bool, Field(description="plan only: each step and its mode")] = False,
        wait_s: WaitS = 30,
    ) -> dict[str, Any]:
        """Start a playbook run (each step is gated by its own operation). A step that needs
        humans pauses the run: the answer is pending_approval for that step."""
        with plane_errors():
            run = self.client.start_run(playbook, inputs or {}, dry_run=dry_run)
            if dry_run:
                return {"status": "planned", **run}
            if wait_s > 0:
                run = self.client.wait(run, kind="run", timeout_s=wait_s, poll_s=0.2)
            step = answers.paused_step(run)
            approval = self._approval(step.get("approval_id") if step else None)
            return answers.run_answer(run, approval)

    def get_run(self, run_id: str) -> dict[str, Any]:
        """A playbook run's status and step timeline (pending_approval when a step waits)."""
        with plane_errors():
            return self._status("run", run_id)

    def status(
        self,
        request_id: Annotated[str, Field(description="request_id from a pending answer")],
        kind: Kind | None = None,
    ) -> dict[str, Any]:
        """Where a request stands now: pending_approval (with approvals so far), executing,
        succeeded, failed, rejected or expired."""
        kinds: tuple[Kind, ...] = (kind,) if kind else ("deployment", "run", "action")
        with plane_errors():
            for each in kinds:
                try:
                    return self._status(each, request_id)
                except NotFound:
                    continue
        raise ToolError(f"no deployment, run or governed action {request_id!r} on this plane")

    def _status(self, kind: Kind, request_id: str) -> dict[str, Any]:
        if kind == "deployment":
            dep = self.client.get_deployment(request_id)
            return answers.deployment_answer(dep, self._approval(dep["approval_id"]))
        if kind == "run":
            run = self.client.get_run(request_id)
            step = answers.paused_step(run)
            approval_id = step.get("approval_id") if step else None
            return answers.run_answer(run, self._approval(approval_id))
        action = self.client.get_action(request_id)
        return answers.action_answer(action, self._approval(action["approval_id"]))

    def list_signals(
        self, service: OptService = None, environment: Env | None = None
    ) -> dict[str, Any]:
        """Every risk signal's reading (state, source, evidence) for a scope. Read only: no
        tool lowers a signal; suppressing one is a STOP request for humans."""
        with plane_errors():
            return dict(self.client.signals(service, environment))

    def pending(self) -> dict[str, Any]:
        """Approval requests waiting for humans, oldest first (read only: agents never vote)."""
        with plane_errors():
            rows = self.client.approvals("pending")
        keep = ("id", "summary", "operation", "environment", "service", "mode", "requester")
        data = [
            {**{k: a.get(k) for k in keep}, "approvals": a["approvals"], "required": a["required"],
             "expires_at": a["expires_at"]}
            for a in rows
        ]  # fmt: skip
        return {"data": data, "count": len(data)}

    def get_dora(
        self,
        service: OptService = None,
        environment: Env | None = None,
        days: Annotated[int, Field(ge=1, le=365)] = 30,
    ) -> dict[str, Any]:
        """The four DORA keys (deployment frequency, lead time, change failure rate, time to
        restore) measured from the plane's own records."""
        dora = getattr(self.client, "dora", None)
        if dora is None:
            raise ToolError(NO_DORA)
        wanted = {"service": service, "environment": environment, "days": days}
        accepted = inspect.signature(dora).parameters
        kwargs = {k: v for k, v in wanted.items() if k in accepted and v is not None}
        try:
            with plane_errors():
                out = dora(**kwargs)
        except ToolError as exc:
            if isinstance(exc.__cause__, NotFound):
                raise ToolError(NO_DORA) from exc
            raise
        return dict(out) if isinstance(out, Mapping) else {"data": out}

    def query_audit(
        self,
        actor: str | None = None,
        operation: str | None = None,
        environment: str | None = None,
        service: str | None = None,
        result: str | None = None,
        since: Annotated[str | None, Field(description="ISO time")] = None,
        until: Annotated[str | None, Field(description="ISO time")] = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 50,
        cursor: int | None = None,
    ) -> dict[str, Any]:
        """A page of the hash-chained audit log (seed field names), newest first."""
        with plane_errors():
            page = self.client.audit(
                actor=actor, operation=operation, environment=environment, service=service,
                result=result, since=since, until=until, limit=limit, cursor=cursor,
                order="desc",
            )  # fmt: skip
        return dict(page)
