"""`opsctl deploy` asks the plane to run a release; `opsctl deployments` shows what became of it.

The plane decides: AUTO runs now, CONSULT/STOP wait for humans, a failed gate refuses. This
module only builds the request (finding the release's security audit when it can) and says
the outcome in plain words; exit 0 when it ran or waits for approval, 1 otherwise.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from controlplane.cli._common import (
    EXIT_REFUSED,
    JsonOpt,
    emit_json,
    fail,
    mode_style,
    plane,
    table,
)
from controlplane.cli.follow import (
    DEFAULT_TIMEOUT_S,
    NoWaitOpt,
    TimeoutOpt,
    exit_code,
    follow,
    note_if_still_running,
)
from controlplane.cli.grammar import EnvFilterOpt, EnvOpt, by_prefix, env_name, noun, short_id
from controlplane.client_types import RUNNING
from controlplane.errors import ControlPlaneError, NotFound

if TYPE_CHECKING:
    from controlplane.client import ControlPlaneClient, DeploymentOut

AUDITED_ENVS = ("staging", "production")


def deploy(
    service: Annotated[str, typer.Argument(help="Service to deploy, e.g. bankchurn.")],
    env: EnvOpt,
    artifact: Annotated[
        str, typer.Option("--artifact", "-a", help="Release: <name>@sha256:<64 hex>.")
    ],
    tag: Annotated[str | None, typer.Option("--tag", help="Release tag (vX.Y.Z).")] = None,
    commit: Annotated[str | None, typer.Option("--commit", help="Source commit sha.")] = None,
    audit: Annotated[
        Path | None,
        typer.Option("--audit", help="SecurityAuditResult JSON (default: the release's own)."),
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", "-r", help="Why, for reviewers.")
    ] = None,
    no_wait: NoWaitOpt = False,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT_S,
    json_out: JsonOpt = False,
) -> None:
    """Ask to deploy a release: AUTO rolls out now (followed live), CONSULT/STOP wait for
    approval, gates may refuse. Exit 0 succeeded, 1 failed or refused, 3 waits for approvals,
    4 still running when --timeout ran out."""
    security_audit = _read_audit(audit) if audit else None
    with plane() as client:
        if security_audit is None and env.value in AUDITED_ENVS:
            security_audit = release_audit(client, service, artifact)
        try:
            dep = client.deploy(
                service,
                env.value,
                artifact,
                release_tag=tag,
                commit_sha=commit,
                security_audit=security_audit,
                reason=reason,
            )
        except ControlPlaneError as exc:
            if json_out or exc.code != "gates_refused":
                raise  # reported once by plane(), as JSON with --json
            typer.echo(refusal_text(exc), err=True)
            raise typer.Exit(EXIT_REFUSED) from None
        if not no_wait:
            dep = follow(client, dep, timeout_s=timeout, json_out=json_out)
    report(dep, json_out, accepted_ok=no_wait)


def report(dep: DeploymentOut, json_out: bool, *, accepted_ok: bool = False) -> None:
    """Print a deployment's outcome and exit with its code (`accepted_ok`: running is fine)."""
    if json_out:
        emit_json(dep)
    else:
        typer.echo(outcome_text(dep))
        if not accepted_ok:
            note_if_still_running(dep)
    code = exit_code(dep, accepted_ok=accepted_ok)
    if code:
        raise typer.Exit(code)


def _read_audit(path: Path) -> dict[str, Any]:
    """A SecurityAuditResult from a file (or the `security_audit` of `release show --json`)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read the security audit {path}: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("security_audit"), dict):
        data = data["security_audit"]
    if not isinstance(data, dict):
        raise fail(f"{path} does not hold a SecurityAuditResult object")
    return data


def release_audit(client: ControlPlaneClient, service: str, ref: str) -> dict[str, Any] | None:
    """The security audit the plane holds for this release, or None (with a note) if none."""
    _, _, digest = ref.partition("@sha256:")
    if not digest:
        return None  # unpinned: the plane refuses it outside dev and says why
    try:
        return client.get_release(service, digest)["security_audit"]
    except NotFound:
        typer.echo(
            f"note: the plane holds no release bundle {ref}, so no security audit was attached; "
            "pass --audit FILE.json if the release has one",
            err=True,
        )
        return None


def outcome_text(dep: DeploymentOut) -> str:
    """What happened to a deployment request, in plain words."""
    where = f"{dep['service']}/{dep['environment']}"
    mode = mode_style(dep["mode"] or "-")
    head = f"{mode}  {dep['release']} -> {where}"
    status = dep["status"]
    if status == "succeeded":
        since = when(dep["healthy_since"])
        lines = [f"{head}: ran, healthy, live since {since}"]
    elif status == "pending_approval":
        lines = [
            f"{head}: pending approval {dep['approvals']} of {dep['required_approvals']}",
            f"  approval id  {dep['approval_id']}",
            *(f"  why          {r}" for r in _why(dep)),
            f"  next         a human approver runs `opsctl approve {dep['approval_id']}`",
        ]
    elif status in ("failed", "rolled_back"):
        lines = [f"{head}: {status.replace('_', ' ')}: {dep['failure_reason'] or '-'}"]
        if dep["previous_release"]:
            lines.append(f"  still serving  {dep['previous_release']}")
        lines += cause_lines(dep.get("cause"))
    elif status in RUNNING:
        lines = [f"{head}: {dep['message']}"]
    else:
        lines = [f"{head}: {status}: {dep['message']}"]
    lines.append(f"  deployment   {dep['id']}")
    return "\n".join(lines)


def cause_lines(cause: dict[str, Any] | None) -> list[str]:
    """The figures and the process's last log lines behind a failure, indented."""
    if not cause:
        return []
    figures = ", ".join(
        f"{k} {cause[k]}" for k in ("ready", "error_rate", "requests", "errors") if k in cause
    )
    lines = [f"  figures      {figures}"] if figures else []
    if cause.get("log"):
        lines.append(f"  log          {cause['log']}")
    tail = str(cause.get("log_tail") or "").splitlines()[-8:]
    if tail:
        lines.append("  last lines of the new process's log:")
        lines += [f"    | {line}" for line in tail]
    return lines


def _why(dep: DeploymentOut) -> list[str]:
    """Every reason the decision gave, then what would have made it AUTO."""
    decision = dep["decision"]
    reasons = [str(r) for r in decision.get("reasons", [])]
    if decision.get("counterfactual"):
        reasons.append(f"counterfactual: {decision['counterfactual']}")
    return reasons or ["-"]


def refusal_text(exc: ControlPlaneError) -> str:
    """Every failed gate and when to retry, from a `gates_refused` error."""
    lines = ["refused: no deployment was made"]
    for gate in exc.details.get("failed_gates", []):
        lines.append(f"  - {gate.get('name')}: {gate.get('reason')}")
    retry = exc.details.get("retry_after")
    if retry:
        lines.append(f"  retry after {when(retry)}")
    if exc.details.get("deployment_id"):
        lines.append(f"  recorded as deployment {exc.details['deployment_id']} (blocked)")
    return "\n".join(lines)


def when(stamp: str | None) -> str:
    """An ISO timestamp as `YYYY-MM-DD HH:MM UTC` (the plane speaks UTC)."""
    if not stamp:
        return "-"
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    return moment.strftime("%Y-%m-%d %H:%M UTC")


# -- opsctl deployments ------------------------------------------------------------------------

deployments = noun("List deployments (newest first), or show one.")
LISTED = 500  # the most the plane lists at once: prefixes resolve among the newest this many


def _deployment_ids(client: ControlPlaneClient) -> list[str]:
    return [d["id"] for d in client.deployments(limit=LISTED)]


DeploymentIdArg = Annotated[
    str,
    typer.Argument(
        help="Deployment id, or its start as `deployments list` prints it.",
        callback=by_prefix("deployment", _deployment_ids),
    ),
]


@deployments.command("list")
def list_deployments(
    service: Annotated[str | None, typer.Option("--service", "-s", help="Only this one.")] = None,
    env: EnvFilterOpt = None,
    status: Annotated[
        str | None, typer.Option("--status", help="e.g. pending_approval, succeeded.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """List deployments, newest first (`deployments show ID` for one)."""
    with plane() as client:
        out = client.deployments(service, env_name(env), status, limit)
    if json_out:
        emit_json(out)
        return
    rows = [
        (
            short_id(d["id"]),
            d["service"],
            d["environment"],
            short_ref(d["release"]),
            d["mode"],
            d["status"],
            d["requested_by"],
            when(d["created_at"]),
        )
        for d in out
    ]
    headers = ("id", "service", "env", "release", "mode", "status", "by", "requested")
    typer.echo(table(headers, rows))


@deployments.command("show")
def show_deployment(
    deployment_id: DeploymentIdArg,
    json_out: JsonOpt = False,
) -> None:
    """Show one deployment: outcome, decision, every gate and health."""
    with plane() as client:
        dep = client.get_deployment(deployment_id)
    if json_out:
        emit_json(dep)
        return
    typer.echo(outcome_text(dep))
    typer.echo(f"  requested    by {dep['requested_by']} at {when(dep['created_at'])}")
    if dep["executed_by"]:
        typer.echo(f"  executed     by {dep['executed_by']} at {when(dep['started_at'])}")
    typer.echo("Gates")
    for gate in dep["gates"]:
        typer.echo(f"  {'pass' if gate['passed'] else 'FAIL'}  {gate['name']}: {gate['reason']}")
    if dep["health"]:
        typer.echo("Health")
        for key, value in dep["health"].items():
            typer.echo(f"  {key}: {value}")


@deployments.command("wait")
def wait_deployment(
    deployment_id: DeploymentIdArg,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT_S,
    json_out: JsonOpt = False,
) -> None:
    """Follow a deployment until it finishes (or waits for approvals), showing its progress."""
    with plane() as client:
        dep = client.get_deployment(deployment_id)
        dep = follow(client, dep, timeout_s=timeout, json_out=json_out)
    report(dep, json_out)


def short_ref(ref: str | None) -> str:
    """`name@sha256:abcdef123456` (12 hex) so tables stay narrow."""
    if not ref:
        return "-"
    name, at, digest = ref.partition("@sha256:")
    return f"{name}@sha256:{digest[:12]}" if at else ref
