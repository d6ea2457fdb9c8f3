"""Settings from CONTROLPLANE_* environment variables (§11); never built at import time."""

from __future__ import annotations

import base64
import functools
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from controlplane.risk.signals import parse_on_hours

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def parse_kube_contexts(value: str) -> dict[str, str]:
    """`dev=ctx-a,staging=ctx-b` -> {"dev": "ctx-a", ...}; anything else is refused by name."""
    contexts: dict[str, str] = {}
    for item in (part.strip() for part in value.split(",") if part.strip()):
        env, sep, context = item.partition("=")
        env, context = env.strip(), context.strip()
        if not sep or not env or not context:
            raise ValueError(f"kube_contexts: {item!r} is not environment=context")
        if env in contexts:
            raise ValueError(f"kube_contexts: environment {env!r} is named twice")
        contexts[env] = context
    return contexts


class Settings(BaseSettings):
    """Everything the plane reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="CONTROLPLANE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8700, ge=1, le=65535)
    state_dir: Path = Path(".controlplane")
    database_url: str | None = None
    policy_dir: Path = Path("policies")
    playbook_dir: Path = Path("playbooks")
    prometheus_url: str | None = None
    prometheus_timeout_s: float = Field(default=5.0, gt=0, le=60)
    prometheus_bearer_token: SecretStr | None = None
    workload_backend: Literal["local", "kubernetes"] = "local"
    kubeconfig: str | None = None
    kube_context: str | None = None
    # one cluster per environment (infra/terraform builds them so): "dev=ctx,staging=ctx,..."
    kube_contexts: str | None = None
    signal_cache_ttl_s: float = Field(default=60.0, ge=0, le=3600)
    signal_local_ttl_s: float = Field(default=2.0, ge=0, le=60)
    policy_check_interval_s: float = Field(default=2.0, ge=0, le=3600)
    on_hours_utc: str = "08-18"
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    allow_remote: bool = False
    audit_checkpoint_every: int = Field(default=1000, ge=1)
    # "process": decision records are chained and committed by a writer process (the fast path
    # for servers); "thread": by a thread of the plane's own process (the test suite).
    audit_writer: Literal["process", "thread"] = "process"
    soak_staging_minutes: float = Field(default=0, ge=0, le=7 * 24 * 60)
    soak_production_minutes: float = Field(default=15, ge=0, le=7 * 24 * 60)
    freeze_file: Path | None = None
    health_window_s: float = Field(default=3.0, ge=0, le=600)
    max_error_rate: float = Field(default=0.05, ge=0, le=1)
    # Comma-separated base64 ed25519 public keys whose signed security audits the plane trusts
    # for images (local bundles carry the registry's own signed audit).
    trusted_ci_keys: str = ""
    # Refused state-changing calls recorded per principal per minute; the rest are counted only.
    refusal_records_per_minute: int = Field(default=30, ge=0, le=10_000)
    # How often pending approvals past their TTL are closed as expired (and their change ended).
    approval_sweep_s: float = Field(default=30.0, gt=0, le=3600)
    # How often the deployment worker looks for approved deployments nobody woke it for
    # (another replica's, or a stopped plane's); a request or a quorum wakes it at once.
    deploy_poll_s: float = Field(default=2.0, gt=0, le=600)
    # Playbook runs: how often the run worker looks for runs nobody woke it for, and how long a
    # replica's lease on a run lasts without renewal (a dead replica's runs resume after it).
    run_poll_s: float = Field(default=2.0, gt=0, le=600)
    run_lease_s: float = Field(default=15.0, ge=1, le=600)
    # More playbook actions, from your own code: comma-separated `module:function` entries, each
    # a function returning a list of actions (controlplane.playbook.actions.base.Action).
    playbook_actions: str = ""
    # Slack slash commands (POST /v1/chat/slack): the app's signing secret, and which Slack
    # user acts as which plane identity ("U123=alice,U456=bob"); unmapped users are refused.
    slack_signing_secret: SecretStr | None = None
    slack_users: str = ""
    slack_response_hosts: str = "hooks.slack.com"
    # Alertmanager's webhook receiver (POST /v1/webhooks/alertmanager): the bearer token its
    # `http_config.authorization` sends. Unset: the receiver refuses every call.
    alertmanager_token: SecretStr | None = None
    # Alertmanager's API (silences from playbooks). Unset: silences are recorded by the plane.
    alertmanager_url: str | None = Field(default=None, pattern=r"^https?://")
    # Where playbooks revoke and rotate secrets: the local encrypted store (default), AWS Secrets
    # Manager or GCP Secret Manager (credentials from the SDK's own chain, never settings).
    secret_store: Literal["local", "aws", "gcp"] = "local"
    aws_region: str | None = None
    aws_secrets_endpoint_url: str | None = Field(default=None, pattern=r"^https?://")
    gcp_project: str | None = None
    gcp_secrets_endpoint: str | None = Field(default=None, pattern=r"^https?://")
    # Source control (GitHub or GitHub Enterprise): commit times for DORA lead time, and an issue
    # for a P1 incident when asked. Unset: lead time uses the commit time in the request.
    github_token: SecretStr | None = None
    github_repo: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    github_api_url: str = Field(default="https://api.github.com", pattern=r"^https?://")
    github_timeout_s: float = Field(default=10.0, gt=0, le=60)
    github_issue_on_p1: bool = False
    github_issue_every_s: float = Field(default=15.0, gt=0, le=3600)  # how often P1s are filed

    @field_validator("on_hours_utc")
    @classmethod
    def _valid_on_hours(cls, value: str) -> str:
        parse_on_hours(value)
        return value

    @field_validator("trusted_ci_keys")
    @classmethod
    def _keys_are_ed25519(cls, value: str) -> str:
        for key in (k.strip() for k in value.split(",") if k.strip()):
            try:
                raw = base64.b64decode(key, validate=True)
            except ValueError:
                raw = b""
            if len(raw) != 32:
                raise ValueError(f"{key[:16]}... is not a base64 ed25519 public key (32 bytes)")
        return value

    @field_validator("kube_contexts")
    @classmethod
    def _environment_contexts(cls, value: str | None) -> str | None:
        if value:
            parse_kube_contexts(value)
        return value or None

    @property
    def kube_context_map(self) -> dict[str, str]:
        """environment -> kubeconfig context, from CONTROLPLANE_KUBE_CONTEXTS."""
        return parse_kube_contexts(self.kube_contexts) if self.kube_contexts else {}

    @field_validator("prometheus_url")
    @classmethod
    def _http_only(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("prometheus_url must start with http:// or https://")
        return value or None

    @model_validator(mode="after")
    def _loopback_unless_allowed(self) -> Settings:
        if self.host not in _LOOPBACK and not self.allow_remote:
            raise ValueError(
                f"host {self.host!r} is not loopback; set CONTROLPLANE_ALLOW_REMOTE=true to "
                "listen beyond 127.0.0.1 (and put TLS in front)"
            )
        return self

    @model_validator(mode="after")
    def _cloud_store_needs_a_home(self) -> Settings:
        if self.secret_store == "aws" and not self.aws_region:
            raise ValueError("secret_store=aws needs CONTROLPLANE_AWS_REGION")
        if self.secret_store == "gcp" and not self.gcp_project:
            raise ValueError("secret_store=gcp needs CONTROLPLANE_GCP_PROJECT")
        return self

    @model_validator(mode="after")
    def _issues_need_a_repo(self) -> Settings:
        if self.github_issue_on_p1 and not (self.github_token and self.github_repo):
            raise ValueError("github_issue_on_p1 needs CONTROLPLANE_GITHUB_TOKEN and _GITHUB_REPO")
        return self

    @property
    def slack_identities(self) -> dict[str, str]:
        """Slack user id -> plane identity name, from `slack_users`."""
        pairs = (p.split("=", 1) for p in self.slack_users.split(",") if "=" in p)
        return {k.strip(): v.strip() for k, v in pairs if k.strip() and v.strip()}

    @property
    def resolved_database_url(self) -> str:
        """The configured database, or SQLite in the state folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.state_dir / 'controlplane.db').resolve()}"

    @property
    def signing_key_path(self) -> Path:
        """The ed25519 key that signs audit checkpoints."""
        return self.state_dir / "audit-signing.key"

    @property
    def admin_token_path(self) -> Path:
        """Where the first start leaves the admin token for the local CLI (mode 0600)."""
        return self.state_dir / "admin.token"

    @property
    def ci_keys(self) -> frozenset[str]:
        """The trusted CI public keys, as a set."""
        return frozenset(k.strip() for k in self.trusted_ci_keys.split(",") if k.strip())

    @property
    def on_hours(self) -> tuple[int, int]:
        """The validated on-hours window."""
        return parse_on_hours(self.on_hours_utc)


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the process environment, built once on first use."""
    return Settings()
