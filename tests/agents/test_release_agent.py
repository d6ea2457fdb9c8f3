"""release_agent end to end: CI's build outputs -> signed audit -> deployment, as a program.

On the local backend a real service process serves what the agent shipped to dev; staging
waits for a human (the agent cannot vote, and its attempt is recorded); production before the
soak time is refused with the reason. On image releases the plane trusts only the CI key.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from factories import DIGEST, train_bankchurn
from fastapi import FastAPI

from controlplane.adapters.workload.local import LocalBackend
from controlplane.app import create_app
from controlplane.clock import ManualClock
from controlplane.config import Settings
from controlplane.errors import Forbidden
from tests.agents.conftest import REPO, People, as_, refused_votes, run_agent

AGENT = "release-agent"


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained bankchurn artifact (the service's own training command)."""
    return train_bankchurn(tmp_path_factory.mktemp("artifact") / "bankchurn", seed=3)


def built(state_dir: Path, artifact: Path) -> Path:
    """CI's build step: `opsctl release build` writes a signed, audited bundle; its folder."""
    proc = subprocess.run(
        [sys.executable, "-m", "controlplane.cli.main", "release", "build", "bankchurn",
         "--artifact", str(artifact), "--state-dir", str(state_dir), "--json"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    ref = json.loads(proc.stdout)["ref"]
    return state_dir / "releases" / "bankchurn" / ref.split("sha256:")[1]


class TestOnRealProcesses:
    @pytest.fixture
    def app(
        self, local_settings: Settings, clock: ManualClock, local_backend: LocalBackend
    ) -> Iterator[FastAPI]:
        application = create_app(local_settings, clock=clock, workloads=local_backend)
        yield application
        application.state.ctx.close()

    @pytest.mark.slow
    def test_dev_ships_staging_waits_production_is_refused(
        self, plane_url: str, people: People, local_settings: Settings, artifact: Path,
        ci_key_file: Path,
    ) -> None:  # fmt: skip
        bundle = built(local_settings.state_dir, artifact)
        key = {"CONTROLPLANE_CI_KEY_FILE": str(ci_key_file)}
        ship = ["--bundle", str(bundle), "--commit-sha", "a1b2c3d"]

        dev = run_agent("release_agent", plane_url, people[AGENT], *ship, "-e", "dev", **key)
        assert dev.returncode == 0, dev.stdout + dev.stderr
        assert "security audit passed, signed" in dev.stdout and "succeeded" in dev.stdout
        with as_(plane_url, people["olga"]) as olga:
            serving = {(s["service"], s["environment"]): s for s in olga.services()}
        live = serving[("bankchurn", "dev")]
        assert live["release"].endswith(bundle.name) and live["healthy"]
        assert httpx.get(f"{live['url']}/ready", timeout=10).status_code == 200  # a real process

        staging = run_agent(
            "release_agent", plane_url, people[AGENT], *ship, "-e", "staging", "--json", **key
        )
        assert staging.returncode == 3, staging.stdout + staging.stderr
        assert "waits for 1 of 1 human approvers" in staging.stdout
        assert "this agent cannot approve" in staging.stdout
        pending = json.loads(staging.stdout[staging.stdout.index("{") :])
        with as_(plane_url, people[AGENT]) as agent:
            with pytest.raises(Forbidden):  # its own identity, trying the one route there is
                agent.approve(pending["approval_id"], "ship it")
            assert refused_votes(agent, AGENT), "the refusal is in the audit log"
            assert agent.get_deployment(pending["id"])["status"] == "pending_approval"

        prod = run_agent(
            "release_agent", plane_url, people[AGENT], *ship, "-e", "production",
            "--release-tag", "v1.0.0", **key,
        )  # fmt: skip
        assert prod.returncode == 1, prod.stdout + prod.stderr
        assert "refused by the plane" in prod.stdout and "gates_refused" in prod.stdout
        assert "staging" in prod.stdout  # the promotion chain says what is missing


def outputs(**overrides: Any) -> dict[str, Any]:
    """build-outputs.json for an image release whose checks all passed."""
    body: dict[str, Any] = {
        "service": "bankchurn",
        "release": f"bankchurn@sha256:{DIGEST}",
        "sbom_path": "sbom.cdx.json",
        "signature_verified": True,
        "sbom_attested": True,
        "least_privilege_verified": True,
        "scanner": {"critical": 0, "high": 0, "secrets": 0},
        "audited_at": "2026-11-25T09:00:00+00:00",
        "training": {
            "service": "bankchurn", "model_path": "model.joblib", "model_sha256": "0" * 64,
            "run_id": "run-7", "metrics": {"roc_auc": 0.87}, "fairness_dir": 0.9,
            "quality_gates_passed": True, "created_at": "2026-11-25T08:00:00+00:00",
        },
    }  # fmt: skip
    return body | overrides


def test_image_release_is_trusted_only_with_the_ci_key(
    plane_url: str, people: People, ci_key_file: Path, tmp_path: Path
) -> None:
    build = tmp_path / "build-outputs.json"
    build.write_text(json.dumps(outputs()))
    args = ["--build", str(build), "--commit-sha", "a1b2c3d"]
    dev = run_agent("release_agent", plane_url, people[AGENT], *args, "-e", "dev",
                    CONTROLPLANE_CI_KEY_FILE=str(ci_key_file))  # fmt: skip
    assert dev.returncode == 0, dev.stdout + dev.stderr
    args += ["-e", "staging"]
    trusted = run_agent("release_agent", plane_url, people[AGENT], *args,
                        CONTROLPLANE_CI_KEY_FILE=str(ci_key_file))  # fmt: skip
    assert trusted.returncode == 3, trusted.stdout + trusted.stderr  # CONSULT: held for a human

    stranger = tmp_path / "other.key"
    stranger.write_text("A" * 43 + "=")  # 32 zero bytes: a valid key the plane does not know
    untrusted = run_agent("release_agent", plane_url, people[AGENT], *args,
                          CONTROLPLANE_CI_KEY_FILE=str(stranger))  # fmt: skip
    assert untrusted.returncode == 1
    assert "unknown key" in untrusted.stdout


def test_a_failed_scan_is_refused_before_the_plane_is_asked(
    plane_url: str, people: People, ci_key_file: Path, tmp_path: Path
) -> None:
    build = tmp_path / "build-outputs.json"
    build.write_text(json.dumps(outputs(scanner={"critical": 0, "high": 2, "secrets": 0})))
    proc = run_agent("release_agent", plane_url, people[AGENT], "--build", str(build),
                     "-e", "production", "--release-tag", "v1.0.0",
                     CONTROLPLANE_CI_KEY_FILE=str(ci_key_file))  # fmt: skip
    assert proc.returncode == 1
    assert "refused before asking the plane" in proc.stdout
    assert "production_requires_passed_audit" in proc.stdout and "2 high findings" in proc.stdout


def test_without_its_own_token_the_agent_does_not_run(plane_url: str, ci_key_file: Path,
                                                      tmp_path: Path) -> None:  # fmt: skip
    build = tmp_path / "build-outputs.json"
    build.write_text(json.dumps(outputs()))
    proc = run_agent("release_agent", plane_url, None, "--build", str(build), "-e", "dev",
                     CONTROLPLANE_CI_KEY_FILE=str(ci_key_file))  # fmt: skip
    assert proc.returncode == 2 and "CONTROLPLANE_TOKEN is not set" in proc.stderr
