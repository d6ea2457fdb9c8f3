"""The SecurityAuditResult comes from real checks: signature, SBOM, secrets, vulnerabilities."""

from __future__ import annotations

import json
import os
import stat
import zlib
from collections.abc import Mapping
from pathlib import Path

import pytest

from controlplane.handoff import DeploymentRequest, SecurityAuditResult
from controlplane.release import checks
from controlplane.release.registry import ReleaseRegistry

from .conftest import COMMIT

FAKE_AWS_KEY = "AKIAIOSFODNN7EXAMPLE"


@pytest.fixture
def no_scanner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A PATH with no vulnerability scanner on it (code versions are passed, so no git needed)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_a_clean_bundle_passes_and_says_no_scanner_ran(
    registry: ReleaseRegistry, artifact: Path, no_scanner: None
) -> None:
    audit = registry.build("bankchurn", artifact, code_version=COMMIT).audit
    assert audit.signature_verified and audit.sbom_attested and audit.least_privilege_verified
    assert (audit.critical_findings, audit.high_findings, audit.secret_findings) == (0, 0, 0)
    assert audit.passed
    text = "\n".join(audit.findings)
    assert "no scanner available" in text and "not a proof of none" in text
    assert "secret scan: 4 files, 0 findings" in text


def test_the_audit_file_is_a_valid_handoff_that_a_production_request_accepts(
    registry: ReleaseRegistry, artifact: Path
) -> None:
    info = registry.build("bankchurn", artifact, code_version=COMMIT)
    audit = SecurityAuditResult.model_validate_json((info.path / "security_audit.json").read_text())
    assert audit == info.audit and str(audit.release) == info.ref
    request = DeploymentRequest(
        service="bankchurn",
        environment="production",
        release=info.release,
        release_tag="v1.0.0",
        security_audit=audit,
    )
    assert request.violations() == []


def test_a_planted_aws_key_is_counted_and_fails_the_audit(
    registry: ReleaseRegistry, artifact: Path, no_scanner: None
) -> None:
    clean = registry.build("bankchurn", artifact, code_version=COMMIT)
    (artifact / "notes.txt").write_text(f"aws_access_key_id = {FAKE_AWS_KEY}\n")
    leaky = registry.build("bankchurn", artifact, code_version=COMMIT)
    assert leaky.digest != clean.digest
    audit = leaky.audit
    assert audit.secret_findings == 1 and audit.passed is False
    assert audit.failed_checks() == ["1 secret findings"]
    assert any("aws_access_key in artifact/notes.txt" in f for f in audit.findings)
    assert FAKE_AWS_KEY not in (leaky.path / "security_audit.json").read_text()
    assert [r.audit.passed for r in registry.list("bankchurn")].count(False) == 1


def test_a_secret_inside_a_compressed_file_is_found(tmp_path: Path) -> None:
    """joblib compresses models with zlib; the scan looks inside, not only at the raw bytes."""
    (tmp_path / "model.joblib").write_bytes(zlib.compress(f"token={FAKE_AWS_KEY};".encode() * 3))
    [hit] = checks.scan_secrets(tmp_path, ["model.joblib"])
    assert (hit.kind, hit.path) == ("aws_access_key", "model.joblib")
    assert FAKE_AWS_KEY not in str(hit)


def test_without_a_lock_there_is_no_sbom_and_the_audit_fails(
    artifact: Path, tmp_path: Path
) -> None:
    registry = ReleaseRegistry(tmp_path / "state", repo_root=tmp_path / "no-repo")
    info = registry.build("bankchurn", artifact, code_version=COMMIT)
    assert info.manifest.sbom_file is None
    assert info.audit.sbom_attested is False and info.audit.passed is False


def _fake_osv(bin_dir: Path, output: Mapping[str, object], code: int) -> None:
    """An `osv-scanner` on PATH that prints a fixed JSON report."""
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / "osv-scanner"
    exe.write_text(f"#!/bin/sh\ncat <<'EOF'\n{json.dumps(output)}\nEOF\nexit {code}\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)


def test_an_installed_scanner_counts_critical_and_high_findings(
    registry: ReleaseRegistry, artifact: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups = [
        {"ids": ["GHSA-crit"], "max_severity": "9.8"},
        {"ids": ["GHSA-high"], "max_severity": "7.5"},
        {"ids": ["GHSA-unscored"], "max_severity": ""},
        {"ids": ["GHSA-low"], "max_severity": "3.1"},
    ]
    package = {"package": {"name": "x", "version": "1"}, "groups": groups}
    report = {"results": [{"packages": [package]}]}
    _fake_osv(tmp_path / "bin", report, 1)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    audit = registry.build("bankchurn", artifact, code_version=COMMIT).audit
    assert (audit.critical_findings, audit.high_findings) == (1, 2)
    assert audit.passed is False
    assert any("GHSA-low in x@1: medium/low" in f for f in audit.findings)


def test_a_broken_scanner_fails_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_osv(tmp_path / "bin", {}, 127)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    lock = tmp_path / "uv.lock"
    lock.write_text("version = 1\n")
    report = checks.scan_vulnerabilities(lock)
    assert report.high == 1 and "counted as 1 high" in report.findings[0]
