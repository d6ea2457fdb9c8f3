"""Actions on the outside world and the plane's own doors: silences, notices, secrets, and
deployment requests that go through the deployment API's gates and approvals like any other.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlmodel import Session, col, select

from controlplane.deploy import service as deployments
from controlplane.deploy.models import Deployment
from controlplane.errors import ControlPlaneError
from controlplane.handoff.models import DeploymentRequest
from controlplane.identity import service as identities
from controlplane.identity.models import Principal
from controlplane.playbook.actions.base import (
    Action,
    ActionFailed,
    ActionInputs,
    ActionOutputs,
    StepContext,
    Waiting,
)
from controlplane.playbook.secret_patterns import classify as classify_secret

TERMINAL_BAD = ("failed", "rolled_back", "rejected", "expired", "blocked")


class SilenceIn(ActionInputs):
    service: str
    environment: str = "production"
    duration: int = Field(default=7200, ge=60, le=86400)  # seconds; the seed's 2 h
    comment: str = Field(default="", max_length=500)


class SilenceOut(ActionOutputs):
    silence_id: str
    ends_at: str
    matchers: dict[str, str]


def silence(ctx: StepContext, given: SilenceIn) -> SilenceOut:
    """Silence the target's alerts for a while (silence, never delete; extend, never re-add)."""
    matchers = {"service": given.service, "environment": given.environment}
    made = ctx.tools.silencer.silence(
        matchers,
        duration_s=given.duration,
        comment=given.comment or f"playbook run {ctx.run_id}",
        created_by=ctx.requester.name,
        idempotency_key=ctx.idempotency_key,
    )
    return SilenceOut(silence_id=made.id, ends_at=made.ends_at.isoformat(), matchers=matchers)


class ExpireIn(ActionInputs):
    silence_id: str


class ExpireOut(ActionOutputs):
    silence_id: str
    state: str


def expire(ctx: StepContext, given: ExpireIn) -> ExpireOut:
    """End a silence early (the compensation of a silence when a run is cancelled)."""
    done = ctx.tools.silencer.expire(given.silence_id)
    return ExpireOut(silence_id=done.id, state=done.state)


class NotifyIn(ActionInputs):
    channel: str = Field(default="platform", max_length=64)
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=4000)


class NotifyOut(ActionOutputs):
    notice_id: str
    channel: str


def notify(ctx: StepContext, given: NotifyIn) -> NotifyOut:
    """Tell owners (the default notifier writes the notice to the run and the log)."""
    notice = ctx.tools.notifier.send(
        given.channel, given.subject, given.body, idempotency_key=ctx.idempotency_key
    )
    ctx.note(f"notified {given.channel}: {given.subject}")
    return NotifyOut(notice_id=notice.id, channel=given.channel)


# -- secrets -----------------------------------------------------------------------------------


class SecretClassifyIn(ActionInputs):
    kind: str | None = None
    where: str = Field(default="unknown", max_length=200)
    sample: str | None = Field(default=None, max_length=10000)  # redacted before it is stored


class SecretClassifyOut(ActionOutputs):
    kind: str
    severity: str
    sla: str
    fingerprint: str | None
    where: str


def secret_classify(ctx: StepContext, given: SecretClassifyIn) -> SecretClassifyOut:
    """Classify by kind or pattern; only a sha256 prefix of a sample is ever kept."""
    try:
        found = classify_secret(given.kind, given.sample)
    except ValueError as exc:
        raise ActionFailed(str(exc), error="bad_input", retryable=False) from None
    return SecretClassifyOut(
        kind=found.kind,
        severity=found.severity,
        sla=found.sla,
        fingerprint=found.fingerprint,
        where=given.where,
    )


class SecretIn(ActionInputs):
    name: str = Field(min_length=1, max_length=128)


class SecretOut(ActionOutputs):
    name: str
    version: int
    fingerprint: str
    state: str


def _secret_out(version: Any) -> SecretOut:
    return SecretOut(
        name=version.name,
        version=version.version,
        fingerprint=version.fingerprint,
        state=version.state,
    )


def secret_revoke(ctx: StepContext, given: SecretIn) -> SecretOut:
    """Revoke the leaked version (idempotent by key)."""
    return _secret_out(ctx.tools.secrets.revoke(given.name, idempotency_key=ctx.idempotency_key))


def secret_rotate(ctx: StepContext, given: SecretIn) -> SecretOut:
    """Put a new value in place and disable the old one (idempotent by key)."""
    return _secret_out(ctx.tools.secrets.rotate(given.name, idempotency_key=ctx.idempotency_key))


class AccessAuditIn(ActionInputs):
    name: str
    hours: int = Field(default=72, ge=1, le=24 * 90)


class AccessAuditOut(ActionOutputs):
    versions: list[dict[str, Any]]
    window_hours: int


def access_audit(ctx: StepContext, given: AccessAuditIn) -> AccessAuditOut:
    """The access window: which versions were live when (fingerprints only, never values)."""
    versions = ctx.tools.secrets.versions(given.name)
    return AccessAuditOut(
        versions=[
            {
                "version": v.version,
                "fingerprint": v.fingerprint,
                "state": v.state,
                "created_at": v.created_at.isoformat(),
            }
            for v in versions
        ],
        window_hours=given.hours,
    )


# -- deployments through the deployment API ------------------------------------------------


class DeployIn(ActionInputs):
    service: str
    environment: str
    release: str
    release_tag: str | None = None  # production asks for a v* tag
    reason: str = Field(default="", max_length=500)


class DeployOut(ActionOutputs):
    deployment_id: str
    status: str
    mode: str | None
    message: str


def request_deployment(ctx: StepContext, given: DeployIn) -> DeployOut:
    """Ask for a deployment as the run's requester: the deployment is gated and approved by
    the same rules as one asked for directly (this step only asks)."""
    tag = f"[{ctx.idempotency_key}]"
    for dep in _recent(ctx, given.service, given.environment):
        if tag in str(dep.request.get("reason") or ""):
            return DeployOut(deployment_id=dep.id, status=dep.status, mode=dep.mode,
                             message=deployments.message(dep, 0, 0))  # fmt: skip
    principal = _principal(ctx)
    body: dict[str, Any] = {
        "service": given.service,
        "environment": given.environment,
        "release": given.release,
        "reason": f"{given.reason or 'playbook run'} {tag}",
    }
    if given.release_tag:
        body["release_tag"] = given.release_tag
    audit = _release_audit(ctx, given.service, given.release)
    if audit is not None and given.environment not in ("dev", "local"):
        body["security_audit"] = audit
    try:
        request = DeploymentRequest.model_validate(body)
    except ValueError as exc:
        raise ActionFailed(f"not a deployment request: {exc}", retryable=False) from None
    try:
        dep = deployments.request_deployment(
            session=ctx.session,
            door=ctx.tools.door,
            workloads=ctx.tools.workloads,
            settings=ctx.tools.settings,
            principal=principal,
            request=request,
        )
    except ControlPlaneError as exc:
        raise ActionFailed(f"deployment refused: {exc.message}", retryable=False) from None
    ctx.note(deployments.message(dep, 0, 0))
    return DeployOut(deployment_id=dep.id, status=dep.status, mode=dep.mode,
                     message=deployments.message(dep, 0, 0))  # fmt: skip


def _release_audit(ctx: StepContext, service: str, release: str) -> dict[str, Any] | None:
    """The release's own signed security audit, when its catalog keeps one (local bundles);
    an image's audit comes from CI, which asks for its deployments itself."""
    try:
        trust = ctx.tools.workloads.releases.inspect(release, service, None)
    except ControlPlaneError as exc:
        raise ActionFailed(f"release {release}: {exc.message}", retryable=False) from None
    return trust.audit.model_dump(mode="json") if trust.audit is not None else None


def _recent(ctx: StepContext, service: str, environment: str) -> list[Deployment]:
    with Session(ctx.tools.engine) as session:
        rows = session.exec(
            select(Deployment)
            .where(Deployment.service == service, Deployment.environment == environment)
            .order_by(col(Deployment.created_at).desc())
            .limit(20)
        ).all()
    return list(rows)


def _principal(ctx: StepContext) -> Principal:
    with Session(ctx.tools.engine) as session:
        who = identities.get_identity(session=session, name=ctx.requester.name)
    if who.disabled:
        raise ActionFailed(f"{who.name} is disabled", retryable=False)
    return Principal(who.id, who.name, who.kind, frozenset(who.roles))


class WaitIn(ActionInputs):
    deployment_id: str
    soak: int = Field(default=0, ge=0, le=86400)  # seconds healthy after it succeeds


class WaitOut(ActionOutputs):
    deployment_id: str
    status: str
    release: str


def wait_deployment(ctx: StepContext, given: WaitIn) -> WaitOut:
    """Follow a deployment until it succeeds (and soaks); approvals and rollouts take time."""
    with Session(ctx.tools.engine) as session:
        dep = deployments.get(session=session, deployment_id=given.deployment_id)
    if dep.status in TERMINAL_BAD:
        why = dep.failure_reason or deployments.message(dep, 0, 0)
        raise ActionFailed(f"deployment {dep.id} {dep.status}: {why}", retryable=False)
    if dep.status != "succeeded":
        raise Waiting(f"deployment {dep.id} is {dep.status}", check_in_s=2.0)
    if given.soak and dep.healthy_since is not None:
        left = given.soak - (ctx.now - dep.healthy_since).total_seconds()
        if left > 0:
            raise Waiting(f"{dep.release} soaking in {dep.environment}", check_in_s=min(left, 30))
    return WaitOut(deployment_id=dep.id, status=dep.status, release=dep.release)


def actions() -> list[Action[Any, Any]]:
    """The outside-world and deployment actions."""
    return [
        Action("alert.silence", "alert.silence", "silence the target's alerts", SilenceIn,
               SilenceOut, silence, compensation="alert.expire"),
        Action("alert.expire", "alert.expire", "end a silence", ExpireIn, ExpireOut, expire),
        Action("notify", "notify", "tell owners", NotifyIn, NotifyOut, notify),
        Action("secret.classify", "secret.classify", "classify a leaked credential",
               SecretClassifyIn, SecretClassifyOut, secret_classify),
        Action("secret.revoke", "secret.revoke", "revoke a secret", SecretIn, SecretOut,
               secret_revoke),
        Action("secret.rotate", "secret.rotate", "rotate a secret", SecretIn, SecretOut,
               secret_rotate),
        Action("access.audit", "access.audit", "audit the access window", AccessAuditIn,
               AccessAuditOut, access_audit),
        Action("deployment.request", "deploy.request", "ask for a deployment", DeployIn,
               DeployOut, request_deployment),
        Action("deployment.wait", "deploy.request", "follow a deployment to its end", WaitIn,
               WaitOut, wait_deployment),
    ]  # fmt: skip
