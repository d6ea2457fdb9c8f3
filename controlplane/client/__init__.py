"""A small typed sync client for the plane's HTTP API: what the CLI and agents use.

It imports no FastAPI, database or domain service code, so an agent can depend on it alone.
Errors come back as the same `controlplane.errors` classes the plane raised. One method per
endpoint, grouped by what they are about (one module each); `wait()` follows what the plane
runs off the request. docs/agents.md shows how an agent uses it.
"""

from __future__ import annotations

from controlplane.client.delivery import DeliveryCalls
from controlplane.client.governance import GovernanceCalls
from controlplane.client.playbooks import PlaybookCalls
from controlplane.client.records import RecordCalls
from controlplane.client.transport import (
    DEFAULT_TIMEOUT_S,
    DEFAULT_URL,
    START_HINT,
    TOKEN_ENV,
    Transport,
    admin_token_path,
    check_token,
    default_url,
    error_from_response,
    token_from_env,
)
from controlplane.client.waiting import Followed, Outcome, WaitCalls, kind_of, outcome
from controlplane.client_types import (
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


class ControlPlaneClient(
    GovernanceCalls, RecordCalls, DeliveryCalls, PlaybookCalls, WaitCalls, Transport
):
    """One method per endpoint; returns decoded JSON, raises `ControlPlaneError` subclasses."""


Client = ControlPlaneClient  # the short name agent authors reach for

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "DEFAULT_URL",
    "START_HINT",
    "TOKEN_ENV",
    "ActionOut",
    "ActionsOut",
    "ApprovalOut",
    "AuditPage",
    "Client",
    "ControlPlaneClient",
    "DecisionOut",
    "DecisionSignal",
    "DeploymentOut",
    "DriftReportAccepted",
    "Followed",
    "GateResultOut",
    "IdentityOut",
    "IncidentOut",
    "Outcome",
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
    "admin_token_path",
    "check_token",
    "default_url",
    "error_from_response",
    "kind_of",
    "outcome",
    "token_from_env",
]
