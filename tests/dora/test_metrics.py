"""The pure maths of the keys, on hand-computed cases (DESIGN §8 definitions)."""

from __future__ import annotations

from datetime import date

import pytest

from controlplane.dora import bands
from controlplane.dora.metrics import (
    DayCounts,
    Rows,
    Sample,
    band_of,
    day_of,
    views,
    week_of,
)
from controlplane.dora.timeline import Finished, first_after, restore_time, unplanned_fixes

HOUR = 3600.0
DAY = 86400.0
MONDAY = day_of(1_764_547_200)  # 2025-12-01, a Monday
T2023 = bands.load("2023")
T2024 = bands.load("2024")


def one_view(rows: Rows, window_days: int = 7, table=T2023):  # type: ignore[no-untyped-def]
    return views(
        rows, window_days=window_days, first_day=MONDAY, last_day=MONDAY + window_days - 1,
        table=table, services=["bankchurn"], requesters=["human", "agent", "ci"],
    )  # fmt: skip


def test_deployment_frequency_counts_deployments_and_leaves_rollbacks_out() -> None:
    """14 deployments and 3 rollbacks in 7 days: 2/day, and the 3 rollbacks are named."""
    days = [DayCounts("bankchurn", "ci", MONDAY + i, deployments=2, finished=2) for i in range(7)]
    rows = Rows(days=[*days, DayCounts("bankchurn", "human", MONDAY, rollbacks=3)])
    freq = one_view(rows).overall.deployment_frequency
    assert (freq.value, freq.numerator, freq.denominator) == (2.0, 14, 7)
    assert freq.left_out == {"rollbacks_not_counted": 3}
    assert freq.band == "elite" and freq.window_days == 7


def test_deployment_days_per_week_counts_days_not_deployments() -> None:
    """Ten deployments on two days of a 14-day window: 2 days in 2 weeks = 1 day/week."""
    rows = Rows(days=[DayCounts("bankchurn", "ci", MONDAY, 5, 5),
                      DayCounts("bankchurn", "agent", MONDAY + 9, 5, 5)])  # fmt: skip
    days = one_view(rows, window_days=14).overall.deployment_days_per_week
    assert (days.value, days.numerator, days.denominator) == (1.0, 2, 2.0)


def test_lead_time_median_leaves_unknown_commit_times_out_and_counts_them() -> None:
    """Lead times 1h, 2h, 10h and two deployments with no commit time: median 2h over 3, 2 out."""
    rows = Rows(lead=[Sample("bankchurn", "ci", MONDAY, s) for s in (HOUR, 10 * HOUR, 2 * HOUR)]
                + [Sample("bankchurn", "ci", MONDAY, None)] * 2)  # fmt: skip
    lead = one_view(rows).overall.lead_time
    assert lead.value == 2 * HOUR and lead.denominator == 3
    assert lead.left_out == {"no_commit_time": 2}
    assert lead.band == "elite"


def test_change_failure_rate_is_failed_deployments_over_finished_ones() -> None:
    """3 failed of 20 finished: 15%, medium in 2023 (15% is its centre), medium in 2024 too."""
    rows = Rows(days=[DayCounts("bankchurn", "ci", MONDAY, deployments=17, finished=20, failed=3)])
    cfr = one_view(rows).overall.change_failure_rate
    assert (cfr.value, cfr.numerator, cfr.denominator) == (0.15, 3, 20)
    assert cfr.band == "medium"


def test_the_2024_table_keeps_its_odd_change_failure_rates() -> None:
    """2024 puts medium (10%) below high (20%): 12% is medium there, high in 2023."""
    assert band_of(T2024, "change_failure_rate", 0.12).band == "medium"  # type: ignore[union-attr]
    assert band_of(T2023, "change_failure_rate", 0.12).band == "high"  # type: ignore[union-attr]
    assert band_of(T2024, "change_failure_rate", 0.25).band == "high"  # type: ignore[union-attr]
    assert band_of(T2024, "change_failure_rate", 0.31).band == "low"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("key", "value", "band"),
    [
        ("deployment_frequency", 1.0, "elite"),
        ("deployment_frequency", 0.5, "high"),
        ("deployment_frequency", 0.1, "medium"),
        ("deployment_frequency", 0.01, "low"),
        ("lead_time", DAY, "elite"),
        ("lead_time", DAY + 1, "high"),
        ("lead_time", 20 * DAY, "medium"),
        ("lead_time", 40 * DAY, "low"),
        ("recovery_time", 59 * 60, "elite"),
        ("recovery_time", 5 * HOUR, "high"),
        ("recovery_time", 3 * DAY, "medium"),
        ("recovery_time", 8 * DAY, "low"),
    ],
)
def test_2023_limits(key: str, value: float, band: str) -> None:
    level = band_of(T2023, key, value)
    assert level is not None and level.band == band


def test_2024_recovery_never_medium_and_rework_has_no_band() -> None:
    """High and medium share "less than one day" in 2024; rework rate has no bands at all."""
    assert band_of(T2024, "recovery_time", 2 * DAY).band == "low"  # type: ignore[union-attr]
    assert band_of(T2024, "rework_rate", 0.1) is None
    assert band_of(T2023, "lead_time", None) is None


def test_unknown_band_table_is_a_422_naming_the_field() -> None:
    with pytest.raises(Exception) as err:
        bands.load("1999")
    assert getattr(err.value, "status", None) == 422
    assert err.value.details == {"field": "bands", "known": ["2023", "2024"]}  # type: ignore[attr-defined]


def test_recovery_median_leaves_unrestored_failures_out() -> None:
    rows = Rows(recovery=[Sample("bankchurn", "human", MONDAY, s) for s in (600, 1800, None)])
    rec = one_view(rows).overall.recovery_time
    assert (rec.value, rec.denominator, rec.left_out) == (1200, 2, {"not_restored": 1})


def test_rework_rate_is_rollbacks_and_fixes_over_everything_shipped() -> None:
    """8 deployments + 2 rollbacks shipped; 2 rollbacks + 1 fix deployment: 3/10."""
    rows = Rows(
        days=[DayCounts("bankchurn", "ci", MONDAY, deployments=8, finished=8, rollbacks=2)],
        fixes=[Sample("bankchurn", "ci", MONDAY, None)],
    )
    rework = one_view(rows).overall.rework_rate
    assert (rework.value, rework.numerator, rework.denominator) == (0.3, 3, 10)
    assert rework.band is None


def test_splits_by_requester_and_service_add_up_to_the_whole() -> None:
    rows = Rows(days=[DayCounts("bankchurn", "agent", MONDAY, 4, 5, 1),
                      DayCounts("nlpinsight", "human", MONDAY + 1, 2, 2, 0)])  # fmt: skip
    v = one_view(rows)
    assert v.by_requester["agent"].change_failure_rate.value == 0.2
    assert v.by_requester["human"].change_failure_rate.value == 0.0
    assert v.by_requester["ci"].change_failure_rate.value is None  # nothing to divide
    assert set(v.by_service) == {"bankchurn", "nlpinsight"}
    assert v.overall.deployment_frequency.numerator == 6


def test_weeks_start_on_monday_and_say_how_many_days_are_inside() -> None:
    """A 10-day window from a Wednesday: weeks of 5 and 5 days, Mondays as starts."""
    wednesday = MONDAY + 2
    assert week_of(wednesday) == MONDAY and week_of(MONDAY) == MONDAY
    rows = Rows(days=[DayCounts("bankchurn", "ci", wednesday, 1, 1),
                      DayCounts("bankchurn", "ci", MONDAY + 8, 3, 4, 1)])  # fmt: skip
    weeks = views(rows, window_days=10, first_day=wednesday, last_day=wednesday + 9, table=T2023,
                  services=[], requesters=[]).weekly  # fmt: skip
    assert [w.week_start for w in weeks] == [date(2025, 12, 1), date(2025, 12, 8)]
    assert [w.days for w in weeks] == [5, 5]
    assert [w.deployments for w in weeks] == [1, 3]
    assert weeks[1].change_failure_rate == 0.25


def test_a_deployment_during_an_open_incident_is_an_unplanned_fix() -> None:
    incidents = {"bankchurn": [(100.0, 200.0), (150.0, 300.0), (1000.0, None)]}
    deploys = [Finished("bankchurn", "ci", t) for t in (50, 120, 250, 500, 5000)]
    deploys.append(Finished("nlpinsight", "ci", 120))
    fixes = unplanned_fixes(deploys, incidents)
    assert len(fixes) == 3  # 120 and 250 (overlapping incidents merged), 5000 (still open)


def test_restore_is_the_first_candidate_after_the_failure() -> None:
    assert first_after([10.0, 20.0, 30.0], 20.0) == 30.0  # never the failed deployment itself
    assert first_after([10.0], 20.0) is None
    assert restore_time(100.0, 400.0, 250.0, None) == 150.0
    assert restore_time(100.0, None, None) is None
