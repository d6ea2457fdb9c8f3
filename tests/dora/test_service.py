"""The DORA service over a real database, rows written through the real models."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.clock import ManualClock
from controlplane.dora import bands
from controlplane.dora import service as dora
from controlplane.dora.models import DoraReport
from controlplane.dora.training import TrainingTimes

from .conftest import Add, deployment, incident


def report(engine: Engine, clock: ManualClock, window: int = 30, **kw: object) -> DoraReport:
    with Session(engine) as session:
        return dora.report(
            session=session, clock=clock, window_days=window, service=kw.pop("service", None),  # type: ignore[arg-type]
            table=bands.load(str(kw.pop("bands", "2023"))), **kw,  # type: ignore[arg-type]
        )  # fmt: skip


def test_one_deployment_linked_to_three_incidents_fails_once(
    engine: Engine, clock: ManualClock, add: Add
) -> None:
    """The denominator trap: 1 failed deployment of 4, however many incidents name it."""
    now = clock.now()
    bad, *_ = add(*(deployment(now - timedelta(days=d)) for d in (3, 4, 5, 6)))
    opened = bad.finished_at + timedelta(minutes=10)
    add(*(incident(opened + timedelta(minutes=i), deployment_id=bad.id,
                   resolved=opened + timedelta(hours=2)) for i in range(3)))  # fmt: skip
    out = report(engine, clock)
    cfr = out.overall.change_failure_rate
    assert (cfr.numerator, cfr.denominator, cfr.value) == (1, 4, 0.25)
    assert out.overall.recovery_time.denominator == 1  # one failure, one recovery sample
    assert out.overall.recovery_time.value == 2 * 3600  # first incident start -> resolution
    (failed,) = add(deployment(now - timedelta(days=2), status="failed",
                               started=now - timedelta(days=2, minutes=3)))  # fmt: skip
    add(incident(now - timedelta(days=2), deployment_id=failed.id))  # failed and named: once
    again = report(engine, clock)
    assert (again.overall.change_failure_rate.numerator,
            again.overall.change_failure_rate.denominator) == (2, 5)  # fmt: skip
    assert again.overall.recovery_time.denominator == 2


def test_a_rollback_is_not_a_deployment_but_is_rework_and_a_restore(
    engine: Engine, clock: ManualClock, add: Add
) -> None:
    now = clock.now()
    (bad,) = add(deployment(now - timedelta(days=2)))
    opened = bad.finished_at + timedelta(minutes=5)
    add(incident(opened, deployment_id=bad.id, resolved=opened + timedelta(hours=6)))
    add(deployment(opened + timedelta(minutes=25), kind="rollback", requester="human"))
    out = report(engine, clock)
    assert out.overall.deployment_frequency.numerator == 1
    assert out.overall.deployment_frequency.left_out == {"rollbacks_not_counted": 1}
    assert out.overall.recovery_time.value == 25 * 60  # restored by the rollback, not at resolve
    rework = out.overall.rework_rate
    assert (rework.numerator, rework.denominator) == (1, 2)
    assert out.by_requester["human"].rework_rate.numerator == 1


def test_deployments_without_commit_time_are_counted_and_left_out_of_the_median(
    engine: Engine, clock: ManualClock, add: Add
) -> None:
    now = clock.now()
    add(
        deployment(now - timedelta(days=1), commit_time=now - timedelta(days=1, hours=3)),
        deployment(now - timedelta(days=2), commit_time=now - timedelta(days=2, hours=1)),
        deployment(now - timedelta(days=3), commit_time=now - timedelta(days=3, hours=5)),
        deployment(now - timedelta(days=4)),
    )
    out = report(engine, clock)
    lead = out.overall.lead_time
    assert lead.value == 3 * 3600 and lead.denominator == 3
    assert lead.left_out == {"no_commit_time": 1}
    assert out.lead_time_source.source == "request"
    assert (out.lead_time_source.from_request, out.lead_time_source.unknown) == (3, 1)


def test_only_finished_production_deployments_of_the_window_count(
    engine: Engine, clock: ManualClock, add: Add
) -> None:
    now = clock.now()
    add(
        deployment(now - timedelta(days=1)),
        deployment(now - timedelta(days=1), environment="staging"),
        deployment(now - timedelta(days=31)),  # before the 30-day window
        deployment(None, status="pending_approval"),
        deployment(now - timedelta(days=2), status="failed",
                   started=now - timedelta(days=2, minutes=4)),
        deployment(now - timedelta(days=2), status="rolled_back", service="nlpinsight",
                   started=now - timedelta(days=2, minutes=2)),
    )  # fmt: skip
    out = report(engine, clock)
    assert out.overall.deployment_frequency.numerator == 1
    assert out.overall.change_failure_rate.numerator == 2
    assert out.overall.change_failure_rate.denominator == 3
    rec = out.overall.recovery_time  # failed rollouts: from their start to their end
    assert (rec.value, rec.denominator) == (3 * 60, 2)
    assert report(engine, clock, window=90).overall.deployment_frequency.numerator == 2
    only = report(engine, clock, service="nlpinsight")
    assert list(only.by_service) == ["nlpinsight"]
    assert only.overall.change_failure_rate.value == 1.0


def test_splits_by_requester_kind_and_weekly_series(
    engine: Engine, clock: ManualClock, add: Add
) -> None:
    now = clock.now()  # Wednesday 2026-11-25
    add(
        deployment(now - timedelta(days=1), requester="agent"),
        deployment(now - timedelta(days=1, hours=1), requester="agent"),
        deployment(now - timedelta(days=9), requester="human", status="failed"),
    )
    out = report(engine, clock, window=30)
    assert out.by_requester["agent"].deployment_frequency.numerator == 2
    assert out.by_requester["human"].change_failure_rate.value == 1.0
    assert out.by_requester["ci"].deployment_frequency.numerator == 0
    last, before = out.weekly[-1], out.weekly[-2]
    assert str(last.week_start) == "2026-11-23" and last.deployments == 2
    assert last.deployment_days == 1
    assert before.failed == 1 and before.change_failure_rate == 1.0
    assert sum(w.days for w in out.weekly) == 31  # both partial days at the ends


def test_a_deployment_while_an_incident_is_open_is_an_unplanned_fix(
    engine: Engine, clock: ManualClock, add: Add
) -> None:
    now = clock.now()
    add(incident(now - timedelta(days=3), resolved=now - timedelta(days=2)))
    add(
        deployment(now - timedelta(days=2, hours=12)),  # during the incident: a fix
        deployment(now - timedelta(days=1)),
    )
    rework = report(engine, clock).overall.rework_rate
    assert (rework.numerator, rework.denominator) == (1, 2)


def test_model_view_from_release_training_times(
    engine: Engine, clock: ManualClock, add: Add, tmp_path: Path
) -> None:
    """Trained 2 days before production; a release with no bundle here is counted as unknown."""
    now = clock.now()
    manifest = json.dumps({"created_at": (now - timedelta(days=3)).isoformat()}).encode()
    digest = hashlib.sha256(manifest).hexdigest()
    folder = tmp_path / "releases" / "bankchurn" / digest
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_bytes(manifest)
    add(
        deployment(now - timedelta(days=1), release=f"bankchurn@sha256:{digest}"),
        deployment(now - timedelta(days=1)),
    )
    model = report(engine, clock, training=TrainingTimes(tmp_path / "releases")).overall
    assert model.model_lead_time.value == 2 * 86400
    assert model.model_lead_time.left_out == {"no_training_time": 1}


def test_bands_follow_the_chosen_table(engine: Engine, clock: ManualClock, add: Add) -> None:
    now = clock.now()
    add(*(deployment(now - timedelta(days=1, minutes=i)) for i in range(22)))
    add(*(deployment(now - timedelta(days=2, minutes=i), status="failed") for i in range(3)))
    cfr_2023 = report(engine, clock).overall.change_failure_rate
    cfr_2024 = report(engine, clock, bands="2024").overall.change_failure_rate
    assert cfr_2023.value == cfr_2024.value == 0.12
    assert (cfr_2023.band, cfr_2024.band) == ("high", "medium")
