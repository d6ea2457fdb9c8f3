"""The local security checks behind a bundle's SecurityAuditResult: secrets, vulnerabilities.

Each check is real and local; where one cannot run (no vulnerability scanner installed) the audit
says so in its findings instead of pretending.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The same patterns that keep secrets out of the audit log find them in a bundle.
from controlplane.audit.redact import SECRET_PATTERNS, fingerprint

MAX_INFLATED_BYTES = 512 * 1024 * 1024
SCANNER_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class SecretFinding:
    """A secret-looking string in a bundle file; only a fingerprint of it is kept."""

    path: str
    kind: str
    fingerprint: str

    def __str__(self) -> str:
        return f"secret {self.kind} in {self.path} (sha256:{self.fingerprint})"


def _layers(data: bytes) -> Iterable[bytes]:
    """The raw bytes and, for zlib/gzip data (joblib's compress=3), the inflated bytes too."""
    yield data
    wbits = 31 if data[:2] == b"\x1f\x8b" else 15 if data[:1] == b"\x78" else 0
    if not wbits:
        return
    try:
        yield zlib.decompressobj(wbits).decompress(data, MAX_INFLATED_BYTES)
    except zlib.error:
        return  # not actually compressed; the raw bytes were scanned


def scan_secrets(root: Path, paths: Iterable[str]) -> list[SecretFinding]:
    """Every distinct secret match in the given bundle files (raw and decompressed)."""
    found: dict[tuple[str, str, str], SecretFinding] = {}
    for rel in paths:
        for layer in _layers((root / rel).read_bytes()):
            text = layer.decode("latin-1")
            for kind, pattern in SECRET_PATTERNS:
                for match in pattern.finditer(text):
                    hit = SecretFinding(rel, kind, fingerprint(match.group(0)))
                    found[(hit.path, hit.kind, hit.fingerprint)] = hit
    return list(found.values())


@dataclass(frozen=True)
class VulnerabilityReport:
    """What a vulnerability scanner said about the locked dependencies."""

    scanner: str | None
    critical: int = 0
    high: int = 0
    findings: list[str] = field(default_factory=list)


def scan_vulnerabilities(lock: Path | None) -> VulnerabilityReport:
    """Run osv-scanner on uv.lock when it is installed; otherwise say plainly that nothing ran."""
    if lock is None or not lock.is_file():
        return VulnerabilityReport(None, findings=["vulnerability scan: no uv.lock to scan"])
    exe = shutil.which("osv-scanner")
    if exe is None:
        return VulnerabilityReport(
            None,
            findings=[
                "vulnerability scan: no scanner available (osv-scanner is not installed); "
                "0 critical and 0 high are counted, which is not a proof of none"
            ],
        )
    cmd = [exe, "scan", "source", f"--lockfile={lock}", "--format=json"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=SCANNER_TIMEOUT_S, check=False)
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"exit {proc.returncode}: {proc.stderr.decode()[-300:].strip()}")
        return _osv_report(json.loads(proc.stdout or b"{}"))
    except (OSError, ValueError, RuntimeError, subprocess.TimeoutExpired) as exc:
        # Fail closed: a scanner that breaks must not read as "no vulnerabilities".
        return VulnerabilityReport(
            "osv-scanner", high=1, findings=[f"osv-scanner failed, counted as 1 high: {exc}"]
        )


def _osv_report(doc: dict[str, Any]) -> VulnerabilityReport:
    """Count osv-scanner groups by CVSS max severity; an unscored one counts as high."""
    critical = high = 0
    findings = []
    for result in doc.get("results") or []:
        for pkg in result.get("packages") or []:
            name = f"{pkg.get('package', {}).get('name')}@{pkg.get('package', {}).get('version')}"
            for group in pkg.get("groups") or []:
                ids = ",".join(group.get("ids") or []) or "unnamed"
                try:
                    score = float(group.get("max_severity") or "")
                except ValueError:
                    score = 7.0  # unscored: fail closed, count it as high
                level = "critical" if score >= 9 else "high" if score >= 7 else "medium/low"
                critical += level == "critical"
                high += level == "high"
                findings.append(f"vulnerability {ids} in {name}: {level} (CVSS {score:g})")
    findings.insert(0, f"vulnerability scan: osv-scanner, {len(findings)} findings")
    return VulnerabilityReport("osv-scanner", critical, high, findings)


LEAST_PRIVILEGE_NOTE = (
    "least privilege: the local backend runs the bundle as a loopback process under the plane's "
    "own OS user with no cloud credentials or IAM role handed to it; there is no role to widen"
)
