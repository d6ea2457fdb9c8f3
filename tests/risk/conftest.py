"""A real Prometheus server on a free loopback port (Debian package `prometheus`)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


RULES = """
groups:
  - name: slo
    rules:
      - record: slo:error_budget_remaining:ratio30d
        expr: vector(-0.2)
        labels: {service: bankchurn, environment: dev}
      - record: slo:error_budget_remaining:ratio30d
        expr: vector(0.9)
        labels: {service: bankchurn, environment: production}
      - record: slo:error_budget_remaining:ratio30d
        expr: vector(0.7)
        labels: {service: nlpinsight, environment: dev}
"""


@pytest.fixture(scope="session")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start Prometheus with recording rules that say bankchurn's dev budget is spent."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus binary not installed (apt-get install prometheus; CI does)")
    root: Path = tmp_path_factory.mktemp("prometheus")
    (root / "rules.yml").write_text(RULES)
    (root / "prometheus.yml").write_text(
        "global: {evaluation_interval: 1s}\nrule_files: [rules.yml]\nscrape_configs: []\n"
    )
    port = _free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            try:
                r = httpx.get(
                    f"{url}/api/v1/query", params={"query": "slo:error_budget_remaining:ratio30d"}
                )
                if r.status_code == 200 and len(r.json()["data"]["result"]) == 3:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail("prometheus did not start evaluating rules within 60 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
