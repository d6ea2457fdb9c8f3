"""`opsctl release build` (offline) and `opsctl releases` / `release show` (over real HTTP)."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI
from typer.testing import CliRunner

from controlplane.cli.main import app as opsctl
from controlplane.release import routes


def test_release_build_prints_the_ref_and_the_audit(artifact: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    args = ["release", "build", "bankchurn", "--artifact", str(artifact), "--state-dir", str(state)]
    result = CliRunner().invoke(opsctl, args)
    assert result.exit_code == 0, result.output
    ref = result.stdout.strip()
    assert ref.startswith("bankchurn@sha256:") and len(ref) == len("bankchurn@sha256:") + 64
    assert "security audit passed" in result.stderr
    again = CliRunner().invoke(opsctl, [*args, "--json"], env={"CONTROLPLANE_STATE_DIR": "x"})
    assert json.loads(again.stdout)["ref"] == ref  # idempotent; the flag beats the env var


def test_release_build_explains_a_bad_artifact(tmp_path: Path) -> None:
    args = ["release", "build", "bankchurn", "--artifact", str(tmp_path / "none")]
    result = CliRunner().invoke(opsctl, [*args, "--state-dir", str(tmp_path / "state")])
    assert result.exit_code == 1
    assert "error (invalid_spec): no trained artifact" in result.stderr


def test_releases_lists_and_shows_through_the_plane(
    plane_url: str, app: FastAPI, artifact: Path
) -> None:
    info = routes.get_registry(app.state.ctx.settings).build("bankchurn", artifact)
    env = {"CONTROLPLANE_URL": plane_url, "CONTROLPLANE_TOKEN": app.state.ctx.admin_token}
    listed = CliRunner().invoke(opsctl, ["releases", "--service", "bankchurn"], env=env)
    assert listed.exit_code == 0, listed.output
    assert info.ref in listed.stdout and "roc_auc 0." in listed.stdout
    as_json = json.loads(CliRunner().invoke(opsctl, ["releases", "--json"], env=env).stdout)
    assert as_json["data"][0]["ref"] == info.ref
    shown = CliRunner().invoke(opsctl, ["release", "show", info.ref], env=env)
    assert shown.exit_code == 0, shown.output
    assert "audit passed: True" in shown.stdout and "artifact/model.joblib" in shown.stdout
    missing = CliRunner().invoke(
        opsctl, ["release", "show", f"bankchurn@sha256:{'0' * 64}"], env=env
    )
    assert missing.exit_code == 1 and "known:" in missing.stderr
