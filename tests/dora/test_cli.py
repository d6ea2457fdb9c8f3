"""`opsctl dora` against a served plane: the table, --json, --csv, and clear errors."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from controlplane.clock import ManualClock
from tests.cli.conftest import Opsctl

from .conftest import Add, deployment


def seed(add: Add, clock: ManualClock) -> None:
    """3 succeeded and 1 failed production deployments, lead times 1 h, 2 h and unknown."""
    now = clock.now()
    add(
        deployment(now - timedelta(days=1), commit_time=now - timedelta(days=1, hours=1)),
        deployment(now - timedelta(days=2), commit_time=now - timedelta(days=2, hours=2)),
        deployment(now - timedelta(days=3), requester="agent"),
        deployment(now - timedelta(days=4), status="failed", requester="agent"),
    )


def test_the_table_shows_raw_numbers_next_to_bands(
    opsctl: Opsctl, add: Add, clock: ManualClock
) -> None:
    seed(add, clock)
    result = opsctl("dora", "--window", "7")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "last 7 days" in out and "bands 2023" in out
    cfr = next(line for line in out.splitlines() if line.startswith("change failure rate"))
    assert "25.0%" in cfr and "medium" in cfr and "1 / 4" in cfr
    lead = next(line for line in out.splitlines() if line.startswith("lead time "))
    assert "1h 30m" in lead and "median of 2" in lead and "1 no commit time" in lead
    assert "lead time from: request" in out
    agent = next(line for line in out.splitlines() if line.startswith("agent "))
    assert "50.0%" in agent  # the agent's split: 1 of its 2 deployments failed


def test_json_and_csv_carry_every_key(opsctl: Opsctl, add: Add, clock: ManualClock) -> None:
    seed(add, clock)
    body = json.loads(opsctl("dora", "--json", "--bands", "2024").stdout)
    assert body["bands"] == "2024"
    assert body["overall"]["deployment_frequency"]["numerator"] == 3
    rows = list(csv.DictReader(io.StringIO(opsctl("dora", "--csv").stdout)))
    overall = {r["key"]: r for r in rows if r["slice"] == "overall"}
    assert overall["change_failure_rate"]["value"] == "0.25"
    assert overall["change_failure_rate"]["numerator"] == "1.0"
    assert overall["lead_time"]["left_out"] == "no_commit_time=1"
    assert {r["name"] for r in rows if r["slice"] == "requester"} >= {"human", "agent", "ci"}
    assert len(rows) == 7 * (1 + 3 + 3)  # seven keys; overall, three requesters, three services


def test_bad_input_is_a_clear_error_and_a_non_zero_exit(opsctl: Opsctl) -> None:
    window = opsctl("dora", "--window", "5")
    assert window.exit_code == 1
    assert "window: 5 days is not offered" in window.stderr
    service = opsctl("dora", "--service", "payments")
    assert service.exit_code == 1 and "not a managed service" in service.stderr
    both = opsctl("dora", "--json", "--csv")
    assert both.exit_code == 2 and "one of --json and --csv" in both.stdout
