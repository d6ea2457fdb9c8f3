"""Builders shared by the tests: hand-off payloads, deployment requests and their audits (signed
by the test CI key the test plane trusts), gate contexts, policy inputs and policy folders.

Each builder returns something valid; override one field to break exactly that field.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controlplane.client_types import RUNNING
from controlplane.deploy.facts import AuditTrust, FreezeWindow, GateContext, ReleaseFact
from controlplane.handoff import attest
from controlplane.handoff.models import DeploymentRequest, SecurityAuditResult
from controlplane.handoff.release import Release
from controlplane.policy.compiled import CompiledPolicy
from controlplane.policy.engine import decide
from controlplane.policy.models import Decision, DecisionInput, Environment
from controlplane.risk.signals import SIGNAL_NAMES, SignalReading, SignalState

DIGEST = "ab" * 32
RELEASE = f"bankchurn@sha256:{DIGEST}"
OTHER_RELEASE = f"bankchurn@sha256:{'cd' * 32}"

# The CI key of the test suite: the `settings` fixture trusts its public half.
CI_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
CI_PUBLIC_KEY = attest.public_key_of(CI_KEY)


def signed(audit: dict[str, Any], key: Ed25519PrivateKey = CI_KEY) -> dict[str, Any]:
    """An audit payload carrying CI's signature (what a release pipeline sends)."""
    model = attest.sign_audit(SecurityAuditResult.model_validate(audit), key)
    return model.model_dump(mode="json")


# ---- hand-off payloads (dicts) -----------------------------------------------------------------

AT = "2026-03-04T10:00:00+00:00"


def eda(**o: Any) -> dict[str, Any]:
    """An EDA hand-off whose leakage gate blocked one feature."""
    return {
        "service": "bankchurn",
        "dataset_path": "data/churn.csv",
        "target_column": "Exited",
        "baseline_distributions_path": "baseline.json",
        "feature_proposals_path": "features.yaml",
        "schema_proposal_path": "schema.yaml",
        "leakage_gate_passed": False,
        "blocked_features": ["CustomerId"],
        "n_rows": 10_000,
        "n_features": 10,
        "created_at": AT,
    } | o


def training(**o: Any) -> dict[str, Any]:
    """A training artifact that passed its gates."""
    return {
        "service": "bankchurn",
        "model_path": "artifacts/bankchurn/model.joblib",
        "model_sha256": "0" * 64,
        "run_id": "run-1",
        "metrics": {"roc_auc": 0.86, "f1": 0.61},
        "fairness_dir": 0.9,
        "quality_gates_passed": True,
        "created_at": AT,
    } | o


def build(**o: Any) -> dict[str, Any]:
    """A pinned build of that training artifact."""
    return {
        "service": "bankchurn",
        "release": RELEASE,
        "sbom_path": "sbom.cdx.json",
        "training_artifact": training(),
        "created_at": AT,
    } | o


def audit(**o: Any) -> dict[str, Any]:
    """A passed audit of RELEASE."""
    return {
        "service": "bankchurn",
        "release": RELEASE,
        "signature_verified": True,
        "sbom_attested": True,
        "critical_findings": 0,
        "high_findings": 0,
        "secret_findings": 0,
        "least_privilege_verified": True,
        "passed": True,
        "created_at": AT,
    } | o


def validation(**o: Any) -> dict[str, Any]:
    """A challenger that is clearly better: promote."""
    return {
        "service": "bankchurn",
        "champion_version": "1",
        "challenger_version": "2",
        "delta_auc": 0.02,
        "ci_low": 0.004,
        "ci_high": 0.035,
        "mcnemar_p": 0.01,
        "n_samples": 4000,
        "decision": "promote",
        "reasons": ["better"],
    } | o


def drift(**o: Any) -> dict[str, Any]:
    """A drift report with one warning-level feature."""
    return {
        "service": "bankchurn",
        "window_start": AT,
        "window_end": "2026-03-04T11:00:00+00:00",
        "features": [
            {"name": "Age", "psi": 0.12, "threshold": 0.2, "ks": 0.05, "kind": "numeric"},
            {"name": "Geography", "psi": 0.01, "threshold": 0.2},
        ],
        "retrain_recommendation": "soft",
    } | o


def deployment(**o: Any) -> dict[str, Any]:
    """A valid production request."""
    return {
        "service": "bankchurn",
        "environment": "production",
        "release": RELEASE,
        "release_tag": "v1.2.3",
        "commit_sha": "a1b2c3d",
        "commit_time": AT,
        "security_audit": audit(),
        "reason": "quarterly retrain",
        "changes": ["a1b2c3d", "e4f5a6b7"],
    } | o


def incident(**o: Any) -> dict[str, Any]:
    """A resolved P2 incident."""
    return {
        "incident_id": "inc-1",
        "service": "bankchurn",
        "environment": "production",
        "severity": "P2",
        "summary": "error rate above SLO",
        "detected_at": AT,
        "resolved_at": "2026-03-04T10:45:00+00:00",
        "duration_minutes": 45,
        "timeline": [{"at": AT, "event": "alert fired"}],
        "root_cause": "bad release",
        "action_items": ["add a canary"],
    } | o


# ---- deployment requests, decisions, release history, gate contexts -------------------------

NOW = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)


def make_audit(**overrides: Any) -> SecurityAuditResult:
    """A passed audit of RELEASE; override any field (keep `passed` consistent yourself)."""
    return SecurityAuditResult(**audit(created_at=NOW - timedelta(hours=1), **overrides))


def make_deployment_request(**overrides: Any) -> DeploymentRequest:
    """A valid production request for RELEASE tagged v1.2.3 with a passed audit."""
    fields: dict[str, Any] = {
        "service": "bankchurn",
        "environment": "production",
        "release": RELEASE,
        "release_tag": "v1.2.3",
        "commit_sha": "a1b2c3d",
        "security_audit": make_audit(),
    }
    fields.update(overrides)
    return DeploymentRequest(**fields)


def make_decision(mode: str = "AUTO", **overrides: Any) -> Decision:
    """A policy decision for deploying bankchurn to production in the given mode."""
    fields: dict[str, Any] = {
        "decision_id": "dec-1",
        "operation": "deploy",
        "environment": Environment.PRODUCTION,
        "service": "bankchurn",
        "actor": "alice",
        "base_mode": mode,
        "final_mode": mode,
        "signals": [],
        "reasons": [],
        "required_approvals": {"AUTO": 0, "CONSULT": 1, "STOP": 2}[mode],
        "policy_version": "0" * 64,
        "counterfactual": "",
        "decided_at": NOW,
    }
    fields.update(overrides)
    return Decision(**fields)


def make_fact(environment: str = "staging", **overrides: Any) -> ReleaseFact:
    """RELEASE succeeded in an environment and has been healthy for 30 minutes."""
    fields: dict[str, Any] = {
        "service": "bankchurn",
        "environment": Environment.parse(environment),
        "release": Release.parse(RELEASE),
        "status": "succeeded",
        "finished_at": NOW - timedelta(minutes=31),
        "healthy_since": NOW - timedelta(minutes=30),
    }
    fields.update(overrides)
    return ReleaseFact(**fields)


def make_freeze(**overrides: Any) -> FreezeWindow:
    """A production freeze from an hour ago to an hour from now."""
    fields: dict[str, Any] = {
        "start": NOW - timedelta(hours=1),
        "end": NOW + timedelta(hours=1),
        "reason": "quarter-end freeze",
        "environments": frozenset({Environment.PRODUCTION}),
    }
    fields.update(overrides)
    return FreezeWindow(**fields)


def make_context(**overrides: Any) -> GateContext:
    """A production request that passes every gate: chained, soaked, tagged, audited, AUTO.

    The plane vouches for the request's own audit unless `audit_trust` says otherwise.
    """
    fields: dict[str, Any] = {
        "request": make_deployment_request(),
        "now": NOW,
        "decision": make_decision(),
        "history": (make_fact("dev"), make_fact("staging")),
    }
    fields.update(overrides)
    fields.setdefault(
        "audit_trust", AuditTrust(True, "vouched for in the test", fields["request"].security_audit)
    )
    return GateContext(**fields)


# ---- policy inputs and folders -----------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]
POLICIES = REPO / "policies"
DECIDED_AT = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)

# Three operations whose base mode is AUTO, CONSULT and STOP; every signal applies to them.
MINIMAL_MODES = """\
operations:
  auto.op:
    description: always AUTO
    modes: {default: AUTO}
  consult.op:
    description: always CONSULT
    modes: {default: CONSULT}
  stop.op:
    description: always STOP
    modes: {default: STOP}
"""
MINIMAL_SIGNALS = "signals:\n" + "".join(
    f"  {name}: {{environments: '*', operations: '*', escalation: step}}\n" for name in SIGNAL_NAMES
)
MINIMAL_APPROVALS = """\
modes:
  CONSULT: {quorum: {default: 1}, ttl: 24h}
  STOP: {quorum: {default: 2}, ttl: 1h}
"""


def write_minimal_policy(root: Path, signals: str = MINIMAL_SIGNALS) -> Path:
    """Write a small, valid policy directory for tests that need their own policy."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "modes.yaml").write_text(MINIMAL_MODES)
    (root / "rules.yaml").write_text("rules: []\n")
    (root / "signals.yaml").write_text(signals)
    (root / "approvals.yaml").write_text(MINIMAL_APPROVALS)
    return root


def copy_default_policy(root: Path) -> Path:
    """Copy the shipped policy files (with their tests) so a test can break one."""
    shutil.copytree(POLICIES, root)
    return root


def readings(states: dict[str, SignalState]) -> list[SignalReading]:
    """All five signals, with the given states and the rest inactive."""
    return [
        SignalReading(name, states.get(name, SignalState.INACTIVE), "test", DECIDED_AT)
        for name in SIGNAL_NAMES
    ]


def decide_for(
    policy: CompiledPolicy,
    operation: str,
    environment: str = "production",
    states: dict[str, SignalState] | None = None,
    context: dict[str, Any] | None = None,
) -> Decision:
    """Decide one operation with the given signal states."""
    inp = DecisionInput(operation=operation, environment=environment, context=context or {})
    return decide(inp, readings(states or {}), policy, decision_id="t", now=DECIDED_AT)


# ---- following a deployment the plane runs off the request ---------------------------------


def settled(
    http: Any, headers: dict[str, str], dep: dict[str, Any], timeout_s: float = 60.0
) -> Any:
    """The deployment once the plane's worker has finished with it (what `opsctl` follows).

    `http` is a TestClient or an httpx.Client; `dep` is the 202 answer (or anything with `id`).
    """
    import time

    deadline = time.monotonic() + timeout_s
    current = dep
    while current.get("status") in RUNNING:
        if time.monotonic() > deadline:
            raise AssertionError(f"deployment still {current['status']} after {timeout_s}s")
        time.sleep(0.05)
        response = http.get(f"/v1/deployments/{dep['id']}", headers=headers)
        assert response.status_code == 200, response.text
        current = response.json()
    return current


@contextmanager
def served(app: Any, *, worker: bool = True, log_level: str = "warning") -> Iterator[str]:
    """Serve an app over real HTTP on a free loopback port in a thread; yield its base URL.

    The app's lifespan is not run (the test owns the app); its deployment worker is started
    unless `worker` is False.
    """
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, lifespan="off"))
    if worker:
        app.state.ctx.worker.start()  # the lifespan's background work that clients follow
        app.state.ctx.playbooks.worker.start()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "test plane did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def train_bankchurn(out: Path, seed: int, rows: int = 1500) -> Path:
    """A real bankchurn artifact from the service's own training command (a few seconds)."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "services.bankchurn.train", "--out", str(out), "--seed", str(seed),
           "--rows", str(rows)]  # fmt: skip
    subprocess.run(cmd, cwd=repo, check=True, capture_output=True)
    return out


@contextmanager
def local_plane(
    settings: Any, clock: Any, artifacts: dict[str, Path], *, ready_timeout_s: float = 30
) -> Iterator[tuple[Any, dict[str, str]]]:
    """A plane on the local backend (real service processes, free ports) with each artifact
    built as a bankchurn release; yields the app and the release ref of each artifact's name."""
    from controlplane.adapters.workload.local import LocalBackend
    from controlplane.app import create_app
    from controlplane.release.registry import ReleaseRegistry

    repo = Path(__file__).resolve().parents[1]
    settings.health_window_s = 0.5
    registry = ReleaseRegistry(settings.state_dir, repo_root=repo)
    refs = {name: registry.build("bankchurn", path).ref for name, path in artifacts.items()}
    backend = LocalBackend(settings.state_dir, base_port=0, ready_timeout_s=ready_timeout_s)
    app = create_app(settings, clock=clock, workloads=backend)
    try:
        yield app, refs
    finally:
        backend.stop_all()
        app.state.ctx.close()
