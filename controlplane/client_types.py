"""Response shapes of the plane's API, as TypedDicts (what `controlplane.client` returns)."""

from __future__ import annotations

from typing import Any, TypedDict

# Deployment statuses the plane is still working on (its worker rolls them out).
RUNNING = frozenset({"approved", "executing"})
# A run still moving on its own (a paused one waits for humans; the rest have ended).
RUN_MOVING = frozenset({"queued", "running", "waiting"})


class SignalOut(TypedDict):
    """A signal reading (also the shape inside a decision, plus applies/counted/note there)."""

    name: str
    state: str
    source: str
    observed_at: str | None
    evidence: dict[str, Any]


class DecisionSignal(SignalOut, total=False):
    """A signal as a decision lists it: whether it applied and counted, and why."""

    applies: bool
    counted: bool
    note: str


class DecisionOut(TypedDict):
    """The §11 decision JSON."""

    decision_id: str
    operation: str
    environment: str
    service: str | None
    actor: str
    base_mode: str
    final_mode: str
    signals: list[DecisionSignal]
    reasons: list[str]
    rules_fired: list[str]
    required_approvals: int
    policy_version: str
    counterfactual: str
    decided_at: str
    recorded: bool
    audit_seq: int | None


class SignalsOut(TypedDict):
    """Every signal for one scope."""

    service: str | None
    data: list[SignalOut]


class OverrideOut(TypedDict):
    """A raise or an approved suppression of a signal, as stored."""

    id: str
    name: str
    state: str
    service: str | None
    environment: str | None
    reason: str
    set_by: str
    approved_by: list[str]
    expires_at: str
    audit_seq: int | None


class OverrideCleared(TypedDict):
    """Which overrides a clear removed."""

    cleared: list[str]
    audit_seq: int | None


class ActionOut(TypedDict):
    """A governed action: a change of the plane itself, decided, maybe waiting, done once."""

    id: str
    kind: str
    status: str
    mode: str
    environment: str
    service: str | None
    summary: str
    requested_by: str
    requested_kind: str
    approval_id: str | None
    approvals: int
    required_approvals: int
    decision: dict[str, Any]
    outputs: dict[str, Any]
    failure_reason: str | None
    executed_by: str | None
    audit_seq: int | None
    created_at: str
    finished_at: str | None
    message: str


class ActionsOut(TypedDict):
    """A list of governed actions."""

    data: list[ActionOut]
    count: int


class DriftReportAccepted(TypedDict):
    """What the plane made of a drift report."""

    id: str
    service: str
    reported_by: str
    severe: bool
    severe_features: list[str]
    max_ratio: float
    audit_seq: int | None


class PolicyInfo(TypedDict):
    """The policy in force on the plane."""

    version: str | None
    directory: str
    last_error: str | None
    operations: dict[str, dict[str, str]]
    signals: list[str]


class IncidentOut(TypedDict):
    """An incident."""

    id: str
    service: str | None
    environment: str | None
    severity: str
    title: str
    status: str
    source: str
    opened_by: str
    opened_at: str
    resolved_by: str | None
    resolved_at: str | None
    resolution: str | None
    mitigated_at: str | None
    deployment_id: str | None


class AuditPage(TypedDict):
    """A page of audit export lines (seed field names) and the next cursor."""

    data: list[dict[str, Any]]
    count: int
    next_cursor: int | None


class VerifyOut(TypedDict):
    """The plane's chain verification."""

    ok: bool
    records: int
    last_seq: int
    head_hash: str
    checkpoints_checked: int
    last_checkpoint_seq: int | None
    last_checkpoint_ts: str | None
    problems: list[str]
    summary: str


class WhoAmI(TypedDict):
    """The caller as the plane sees it."""

    identity_id: str
    name: str
    kind: str
    roles: list[str]


class TokenIssued(TypedDict):
    """A new token, shown only this once (it works once `status` is active)."""

    identity_id: str | None
    name: str
    kind: str
    roles: list[str]
    token: str
    token_id: str | None
    expires_at: str | None
    status: str
    approval_id: str | None
    audit_seq: int | None


class TokenOut(TypedDict):
    """A token without its secret."""

    id: str
    identity: str
    kind: str
    prefix: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None


class IdentityOut(TypedDict):
    """An identity without secrets."""

    id: str
    name: str
    kind: str
    roles: list[str]
    created_at: str
    disabled: bool


class GateResultOut(TypedDict):
    """One deployment gate's verdict."""

    name: str
    passed: bool
    reason: str
    details: dict[str, Any]


class DeploymentOut(TypedDict):
    """A deployment with its decision, gates, approval progress and a message for people."""

    id: str
    service: str
    environment: str
    release: str
    kind: str  # deploy | rollback (a playbook restored an earlier release)
    release_tag: str | None
    commit_sha: str | None
    status: str
    mode: str | None
    decision_id: str | None
    decision: dict[str, Any]
    gates: list[GateResultOut]
    approval_id: str | None
    approvals: int
    required_approvals: int
    previous_release: str | None
    requested_by: str
    executed_by: str | None
    failure_reason: str | None
    cause: dict[str, Any] | None
    health: dict[str, Any]
    step: str | None
    step_at: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    healthy_since: str | None
    message: str


class ServiceLogsOut(TypedDict):
    """Lines of one service's log and the cursor for the lines after them."""

    service: str
    environment: str
    release: str | None
    source: str
    lines: list[str]
    cursor: str


class ServiceStatusOut(TypedDict):
    """What runs where: one service in one environment."""

    service: str
    environment: str
    release: str | None
    deployment_id: str | None
    status: str
    healthy: bool | None
    since: str | None
    url: str | None
    detail: str | None


class VoteOut(TypedDict):
    """One human's vote on an approval request."""

    approver: str
    verdict: str
    comment: str
    created_at: str


class ApprovalOut(TypedDict):
    """An approval request with everything a reviewer needs to decide."""

    id: str
    subject_kind: str
    subject_id: str
    operation: str
    environment: str
    service: str | None
    requester: str
    requester_kind: str
    mode: str
    required: int
    approvals: int
    status: str
    summary: str
    request_hash: str
    policy_version: str
    risk_snapshot: list[dict[str, Any]]
    explanation: dict[str, Any]
    created_at: str
    expires_at: str
    closed_at: str | None
    closed_reason: str | None
    votes: list[VoteOut]


class ReleaseOut(TypedDict):
    """A deployable release as listed."""

    ref: str
    service: str
    digest: str
    created_at: str
    model_version: str
    model_sha256: str
    code_version: str
    metrics: dict[str, float]
    audit_passed: bool


class UnusableReleaseOut(TypedDict):
    """A bundle on disk that failed verification."""

    service: str
    digest: str
    problem: str


class ReleasesOut(TypedDict):
    """Deployable releases, newest first, and bundles that failed verification."""

    data: list[ReleaseOut]
    count: int
    unusable: list[UnusableReleaseOut]


class ReleaseDetailOut(ReleaseOut):
    """One release with its files, signing key and full SecurityAuditResult."""

    files: list[dict[str, Any]]
    sbom_file: str | None
    public_key: str
    security_audit: dict[str, Any]


class SchemaRefOut(TypedDict):
    """A hand-off model and where its JSON Schema lives."""

    name: str
    description: str
    url: str
