"""A status that is true today (`alerts.daily.status_now`): the load and gate as of now, rest days included."""

from datetime import UTC, datetime

import pytest

from alerts.daily import load_as_of, status_now
from alerts.decide import RunnerFacts
from footpod.contract import PainReport, iso
from footpod.records import RunSummary

HOUR_MS = 3_600_000
DAY_MS = 86_400_000


def ms(text):
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


TUESDAY = ms("2026-11-24T07:00:00")  # the end of the last run


def run(end_ms, km):
    return RunSummary(
        run_id=f"run-{end_ms}",
        device_id="pod-1",
        start_ms=end_ms - HOUR_MS,
        end_ms=end_ms,
        km=km,
        samples=3600,
        cadence_spm=172.0,
    )


# 10 km a week for three weeks before, then 6 km on Tuesday: the last run
RUNS = (*(run(TUESDAY - days * DAY_MS, 10.0) for days in (21, 14, 7)), run(TUESDAY, 6.0))


def facts(runs=RUNS, reports=()):
    return RunnerFacts(runner="ana", team="red", runs=tuple(runs), reports=tuple(reports))


@pytest.mark.parametrize(
    "as_of, week_km, prev_week_km",
    [
        (TUESDAY, 6.0, 10.0),  # just after the run: the 6 km count; the week before ends exactly 7 days ago
        (TUESDAY + 6 * DAY_MS, 6.0, 10.0),  # six days later, a rest week: still in the window
        (TUESDAY + 7 * DAY_MS - 1, 6.0, 10.0),  # the last millisecond of the window
        (TUESDAY + 7 * DAY_MS, 0.0, 6.0),  # 7 days after its end the run has left this week for the week before
        (TUESDAY + 14 * DAY_MS, 0.0, 0.0),  # and then that one too
    ],
)
def test_a_run_leaves_week_km_on_the_day_it_leaves_the_window(as_of, week_km, prev_week_km):
    status, _ = status_now(facts(), as_of)
    assert (status.week_km, status.prev_week_km) == (week_km, prev_week_km)
    assert status.as_of == iso(as_of) and status.live is False


def test_the_budget_is_todays_what_the_week_before_allows_minus_this_week():
    status, allowed = status_now(facts(), TUESDAY + 2 * DAY_MS)
    assert allowed == pytest.approx(11.0)  # +10 % on the 10 km of the week before
    assert status.budget_km == pytest.approx(5.0)  # 11 − 6
    assert status.gate == "progress"


def test_the_gate_in_force_now_sets_todays_budget():
    report = PainReport(ts=TUESDAY + 20 * HOUR_MS, score=6)  # after the run: a high score stops progression
    today = TUESDAY + 2 * DAY_MS
    status, allowed = status_now(facts(reports=[report]), today)
    assert status.gate != "progress"
    assert status.gate_since == iso(report.ts)
    assert status.budget_km < 5.0 and allowed < 11.0  # less than with no pain


def test_runs_after_the_instant_are_not_seen():
    status, _ = status_now(facts(), TUESDAY - 1)
    assert status.last_run.end == iso(TUESDAY - 7 * DAY_MS)
    assert status.week_km == 10.0


def test_the_last_run_and_the_cadence_baseline_come_from_the_known_runs():
    status, _ = status_now(facts(), TUESDAY + 3 * DAY_MS)
    assert status.last_run.run_id == f"run-{TUESDAY}" and status.last_run.km == 6.0
    assert status.cadence_baseline_spm == 172.0  # median of the runs of the 28 days before


def test_a_runner_without_runs_has_an_empty_status():
    status, allowed = status_now(facts(runs=()), TUESDAY)
    assert (status.week_km, status.last_run, allowed) == (0.0, None, None)


def test_the_daily_load_point_is_the_load_at_midnight():
    midnight = TUESDAY // DAY_MS * DAY_MS + 7 * DAY_MS  # next Tuesday 00:00: the run ended at 07:00, still in
    load = load_as_of(facts(), midnight)
    assert (load.week_km, load.as_of_ms) == (6.0, midnight)
