"""Artifacts: the manifest pins the model's sha256 and a tampered model is never served."""

from __future__ import annotations

import logging

import pytest
from svc_server import wait_until

from services.common import artifact

PAYLOAD = {
    "CreditScore": 620,
    "Geography": "France",
    "Gender": "Male",
    "Age": 31,
    "Tenure": 5,
    "Balance": 0.0,
    "NumOfProducts": 2,
    "HasCrCard": 1,
    "IsActiveMember": 1,
    "EstimatedSalary": 60000.0,
}


def test_manifest_records_hash_metadata_and_baseline(artifacts) -> None:
    """What drift, gates and the plane's bundles read is in manifest.json."""
    folder = artifacts["bankchurn"]
    m = artifact.read_manifest(folder)
    assert m.model_sha256 == artifact.sha256_file(folder / m.model_file)
    assert m.training.sklearn_version and m.training.trained_at
    assert m.training.model_version.endswith(m.model_sha256[:12])
    age = m.baseline["Age"]
    assert len(age["proportions"]) == len(age["edges"]) + 1
    assert sum(age["proportions"]) == pytest.approx(1.0)
    assert sum(m.baseline["Geography"]["shares"].values()) == pytest.approx(1.0)


def test_tampered_model_file_is_refused(artifact_copy) -> None:
    """One flipped byte in the model file makes loading fail with the reason."""
    folder = artifact_copy("bankchurn")
    model = folder / "model.joblib"
    data = bytearray(model.read_bytes())
    data[-10] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(artifact.ArtifactError, match="sha256 mismatch"):
        artifact.load(folder, service="bankchurn")


def test_artifact_of_another_service_is_refused(artifacts) -> None:
    """A churn model cannot be loaded as the sentiment service."""
    with pytest.raises(artifact.ArtifactError, match="is for 'bankchurn'"):
        artifact.load(artifacts["bankchurn"], service="nlpinsight")


def test_server_with_tampered_model_stays_unready_and_says_why(
    serve, artifact_copy, caplog
) -> None:
    """/ready is 503 with the reason, /health stays 200, /predict is 503, and the log says why."""
    folder = artifact_copy("bankchurn")
    (folder / "model.joblib").write_bytes(b"not the model that was hashed")
    caplog.set_level(logging.ERROR)
    with serve("bankchurn", folder) as client:
        assert wait_until(lambda: "sha256" in (client.get("/ready").json()["reason"] or ""))
        r = client.get("/ready")
        assert r.status_code == 503
        health = client.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "degraded"
        assert client.post("/predict", json=PAYLOAD).status_code == 503
        assert client.get("/drift").status_code == 503
    assert any("refusing artifact" in rec.getMessage() for rec in caplog.records)


def test_missing_artifact_folder_is_unready_not_a_crash(serve, tmp_path) -> None:
    """Pointing a service at an empty folder gives 503s, not a dead process."""
    with serve("nlpinsight", tmp_path / "nothing-here") as client:
        assert wait_until(lambda: "manifest" in (client.get("/ready").json()["reason"] or ""))
        assert client.post("/predict", json={"text": "hello"}).status_code == 503
        assert client.get("/health").status_code == 200
