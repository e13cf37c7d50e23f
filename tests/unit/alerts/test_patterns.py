"""`pain_mile`: during-run pain starting at a similar distance in 3 runs of the trailing 28 days,
not necessarily in a row: three onsets within ±15 % of their median (RULES.md §6)."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.rules.patterns import pain_mile
from footpod.contract import PainReport
from footpod.records import RunSummary

DAY_MS = 86_400_000
MINUTE_MS = 60_000
T0 = int(datetime(2026, 11, 23, 6, tzinfo=UTC).timestamp() * 1000)  # a Monday, 06:00
RUNS = [
    RunSummary(
        run_id=f"run-{day}",
        device_id="pod-1",
        start_ms=T0 + day * DAY_MS,
        end_ms=T0 + day * DAY_MS + 60 * MINUTE_MS,
        km=10.0,
        samples=3600,
        cadence_spm=172.0,
    )
    for day in range(40)
]  # an hour's run each morning, 06:00–07:00


def during(day, distance_m, minute=30, score=3, **fields):
    """A report `minute` minutes into the run of `day` (past 60: after it ended)."""
    return PainReport(ts=T0 + day * DAY_MS + minute * MINUTE_MS, score=score, distance_m=distance_m, **fields)


@pytest.mark.parametrize(
    "reports, fires",
    [
        # 3.0, 3.2 and 2.8 km: all within 15 % of their mean 3.0 km
        ([during(0, 3000), during(1, 3200), during(2, 2800)], True),
        # 2.55, 3.0 and 3.45 km: exactly ±15 % of the mean is still similar
        ([during(0, 2550), during(1, 3000), during(2, 3450)], True),
        # 2.52, 3.0 and 3.48 km: 16 % off the mean
        ([during(0, 2520), during(1, 3000), during(2, 3480)], False),
        # only two runs with pain
        ([during(0, 3000), during(1, 3000)], False),
        # two reports in one run are one onset: still two runs
        ([during(0, 3000), during(1, 3000), during(1, 3100, minute=40)], False),
        # the first report of run 2 started at 3.1 km; its later report at 6 km is not an onset
        ([during(0, 3000), during(1, 3000), during(2, 3100, minute=20), during(2, 6000, minute=50)], True),
        # the first report of run 2 started at 6 km; a later one at 3 km does not replace it
        ([during(0, 3000), during(1, 3000), during(2, 6000, minute=20), during(2, 3000, minute=50)], False),
        # two reports of run 2 at the same instant: the shorter distance is where the pain started
        ([during(0, 3000), during(1, 3000), during(2, 9000), during(2, 3000)], True),
        # the third report came an hour after the run: not during-run pain
        ([during(0, 3000), during(1, 3000), during(2, 3000, minute=120)], False),
        # the third report says it came after the run, though sent while it was under way
        ([during(0, 3000), during(1, 3000), during(2, 3000, timing="after")], False),
        # the third report is the next-day check
        ([during(0, 3000), during(1, 3000), during(2, 3000, timing="next_day")], False),
        # a during-run report without pain is no onset
        ([during(0, 3000), during(1, 3000), during(2, 3000, score=0)], False),
        # a report that does not say where the pain started is no onset
        ([during(0, 3000), during(1, 3000), during(2, None)], False),
        # 3.0, 3.0 and 3.5 km: within 15 % of the mean 3.17, but 16.7 % off the median 3.0 (RULES changed)
        ([during(0, 3000), during(1, 3000), during(2, 3500)], False),
        # 3.0, 9.0, 3.1, 3.0 km: not in a row, yet three similar onsets in 28 days (RULES changed)
        ([during(0, 3000), during(1, 9000), during(2, 3100), during(3, 3000)], True),
        # onsets on days 0, 20 and 27: the first is 27 days before the third, inside the trailing 28
        ([during(0, 3000), during(20, 3000), during(27, 3000)], True),
        # onsets on days 0, 20 and 28: the first is exactly 28 days before the third, outside
        ([during(0, 3000), during(20, 3000), during(28, 3000)], False),
    ],
    ids=[
        "three_onsets_within_15pct",
        "exactly_15pct_off",
        "16pct_off",
        "two_runs_only",
        "same_run_counts_once",
        "first_report_of_run_counts",
        "later_report_of_run_ignored",
        "simultaneous_reports_nearest_onset",
        "after_report_by_age_ignored",
        "explicit_after_ignored",
        "next_day_ignored",
        "pain_free_ignored",
        "no_distance_ignored",
        "median_not_mean",
        "not_in_a_row",
        "window_27_days_in",
        "window_28_days_out",
    ],
)
def test_pain_mile_needs_the_first_during_run_pain_of_3_runs_within_15_percent_of_their_median(reports, fires):
    decisions = pain_mile(reports, RUNS)
    assert {(d.rule, d.severity, d.action) for d in decisions} == (
        {("pain_mile", "info", "review_with_coach")} if fires else set()
    )


def test_pain_mile_is_raised_at_the_third_onset_with_the_distances():
    (decision,) = pain_mile([during(2, 2800), during(0, 3000), during(1, 3200)], RUNS)
    assert decision.ts_ms == T0 + 2 * DAY_MS + 30 * MINUTE_MS
    assert decision.details == {"median_km": 3.0, "distances_km": "3.00,3.20,2.80"}
    assert "3.0 km" in decision.message


onsets = st.builds(
    during,
    day=st.integers(0, 4),
    distance_m=st.sampled_from([None, 2800.0, 3000.0, 3300.0, 9000.0]),
    minute=st.sampled_from([10, 30, 90]),
    score=st.integers(0, 3),
)


@given(st.lists(onsets, max_size=10).flatmap(lambda reports: st.tuples(st.just(reports), st.permutations(reports))))
def test_pain_mile_does_not_depend_on_the_order_reports_arrived_in(orders):
    reports, shuffled = orders
    assert pain_mile(shuffled, RUNS) == pain_mile(reports, RUNS)
