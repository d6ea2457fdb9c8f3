"""The exact command lines the plane's local backend runs: train, then serve on loopback."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from svc_server import free_port, wait_until

REQUESTS = {
    "bankchurn": (
        "post",
        "/predict",
        {
            "CreditScore": 700,
            "Geography": "Spain",
            "Gender": "Female",
            "Age": 44,
            "Tenure": 2,
            "Balance": 5000.0,
            "NumOfProducts": 1,
            "HasCrCard": 0,
            "IsActiveMember": 1,
            "EstimatedSalary": 1000.0,
        },
    ),
    "nlpinsight": ("post", "/predict", {"text": "$MSFT rallies on upbeat outlook"}),
    "chicagotaxi": ("get", "/demand?area=32&limit=3", None),
}


@pytest.mark.parametrize("service", sorted(REQUESTS))
def test_python_m_service_serves_the_artifact(service, artifacts, tmp_path) -> None:
    """`python -m services.<name> --port P --artifact DIR` becomes ready and answers."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        f"services.{service}",
        "--port",
        str(port),
        "--artifact",
        str(artifacts[service]),
        "--log-dir",
        str(tmp_path),
        "--threads",
        "2",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"

    def is_ready() -> bool:
        try:
            return httpx.get(f"{base}/ready").status_code == 200
        except httpx.TransportError:
            return False

    try:
        assert wait_until(is_ready, timeout=60), "service never became ready"
        method, path, body = REQUESTS[service]
        r = httpx.request(method, f"{base}{path}", json=body)
        assert r.status_code == 200
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_train_command_writes_an_artifact(tmp_path) -> None:
    """`python -m services.<name>.train --out DIR --seed N --rows N` writes model and manifest."""
    out = tmp_path / "art"
    cmd = [
        sys.executable,
        "-m",
        "services.nlpinsight.train",
        "--out",
        str(out),
        "--seed",
        "5",
        "--rows",
        "600",
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    assert (out / "model.joblib").is_file() and (out / "manifest.json").is_file()
