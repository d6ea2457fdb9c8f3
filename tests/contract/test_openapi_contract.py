"""The OpenAPI document is the contract: schemathesis fuzzes a served plane with every check."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import served as serve
from fastapi import FastAPI

pytestmark = [pytest.mark.contract, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("schemathesis")
# Per operation and phase; with the coverage phase's own cases, about 1,700 requests in all.
EXAMPLES = os.environ.get("CONTRACT_MAX_EXAMPLES", "10")
SEED = os.environ.get("CONTRACT_SEED", "1")


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    """The test plane over real HTTP, as it was fuzzed before rollouts ran off the request
    (no deployment worker: an AUTO deployment the fuzzer asks for stays approved)."""
    with serve(app, worker=False, log_level="critical") as url:
        yield url


def test_the_plane_keeps_its_openapi_contract(served: str, app: FastAPI) -> None:
    """Every schemathesis check passes on every operation, as the admin (schemathesis.toml
    lists the few narrow exceptions and why)."""
    cmd = [
        str(CLI),
        "--config-file",
        str(REPO / "schemathesis.toml"),
        "run",
        f"{served}/openapi.json",
        "--checks=all",
        f"--header=Authorization: Bearer {app.state.ctx.admin_token}",
        f"--max-examples={EXAMPLES}",
        f"--seed={SEED}",
        "--workers=1",
        "--continue-on-failure",
        "--request-timeout=30",
        "--no-color",
    ]
    assert CLI.exists(), "schemathesis is a dev dependency: make install"
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    print(result.stdout, result.stderr)  # shown by pytest when the test fails
    summary = result.stdout[result.stdout.rfind("SUMMARY") :]
    assert result.returncode == 0, f"schemathesis found contract failures:\n{summary}"
