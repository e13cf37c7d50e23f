"""`cadence_drop` and `cadence_target` (RULES.md §4), and who counts as retraining cadence."""

from datetime import UTC, date, datetime

import pytest

from alerts.decide import RunnerFacts, run_decisions
from alerts.rules.cadence import cadence_drop, cadence_target
from footpod.records import LoadSnapshot, RunEvaluation, RunSummary
from footpod.roster import ReturnToRun, RunnerEntry
from tests.unit.builders import a_load, a_run, an_evaluation

DAY_MS = 86_400_000
START = date(2026, 11, 2)  # a Monday: the return-to-run protocol starts
START_MS = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp() * 1000)
BASELINE = 170.0


def evaluation(dev_pct=-5.0, live=False, as_of=START_MS + 15 * DAY_MS):
    """A finished 5 km run (by default in week 3) whose cadence is `dev_pct` % off a 170 spm baseline."""
    cadence = None if dev_pct is None else BASELINE * (1 + dev_pct / 100)
    return an_evaluation(
        a_run(as_of, minutes=30, cadence=cadence),
        a_load(as_of, 10.0, 10.0, acwr=1.0),
        baseline=BASELINE,
        dev_pct=dev_pct,
        live=live,
    )


def rules(decisions):
    return [(d.rule, d.severity, d.action) for d in decisions]


# --- cadence_drop -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dev_pct, live, fires",
    [
        (-5.0, False, True),  # exactly −5 %: as large as one retraining step
        (-4.9, False, False),  # −4.9 %: not yet
        (-12.0, False, True),  # a large drop
        (3.0, False, False),  # faster than usual is no drop
        (-8.0, True, False),  # a live run: decided when it has ended
        (None, False, False),  # no baseline yet: no deviation to judge
    ],
    ids=["exactly_minus_5pct", "minus_4.9pct", "minus_12pct", "plus_3pct", "live_run", "no_deviation"],
)
def test_cadence_drop_warns_on_finished_runs_5_percent_or_more_below_baseline(dev_pct, live, fires):
    assert rules(cadence_drop(evaluation(dev_pct, live=live))) == (
        [("cadence_drop", "warning", "check_form")] if fires else []
    )


def test_cadence_drop_carries_the_run_the_deviation_and_the_baseline():
    (decision,) = cadence_drop(evaluation(-10.0))
    assert decision.details == {
        "cadence_spm": 153.0,
        "cadence_dev_pct": -10.0,
        "baseline_spm": 170.0,
        "run_id": "run-1",
    }
    assert "153 spm" in decision.message and "10 %" in decision.message and "170 spm" in decision.message


# --- cadence_target -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dev_pct, retraining, live, fires",
    [
        (5.0, True, False, True),  # exactly +5 %: the bottom of the target
        (7.5, True, False, True),  # in the middle
        (10.0, True, False, True),  # exactly +10 %: the top of the target
        (4.9, True, False, False),  # just short
        (10.1, True, False, False),  # just over
        (7.5, False, False, False),  # on target, but the runner is not retraining cadence
        (7.5, True, True, False),  # a live run: decided when it has ended
        (None, True, False, False),  # no baseline yet
    ],
    ids=[
        "exactly_plus_5pct",
        "plus_7.5pct",
        "exactly_plus_10pct",
        "plus_4.9pct",
        "plus_10.1pct",
        "not_retraining",
        "live_run",
        "no_deviation",
    ],
)
def test_cadence_target_is_on_target_only_for_retraining_runners_within_plus_5_to_10_percent(
    dev_pct, retraining, live, fires
):
    assert rules(cadence_target(evaluation(dev_pct, live=live), retraining)) == (
        [("cadence_target", "info", "on_target")] if fires else []
    )


# --- who is retraining (decide.run_decisions) ---------------------------------------------------


def facts(cadence_retraining=False, rtr=True):
    plan = ReturnToRun(start=START, normal_week_km=40.0) if rtr else None
    return RunnerFacts(
        runner="ana", team="red", entry=RunnerEntry(cadence_retraining=cadence_retraining, return_to_run=plan)
    )


@pytest.mark.parametrize(
    "day, cadence_retraining, rtr, fires",
    [
        (15, False, True, True),  # day 15, week 3: return-to-run phase 3 is cadence retraining
        (6, False, True, False),  # day 6, week 1: phase 1 only, not yet
        (7, False, True, True),  # day 7 exactly, week 2: phase 3 begins (weeks 2–6 overlap phase 1)
        (28, False, True, True),  # day 28, week 5: phase 4 runs, phase 3 still applies
        (41, False, True, True),  # day 41, the last day of week 6: the last day of phase 3
        (42, False, True, False),  # day 42, week 7: phase 3 is over
        (42, True, True, True),  # … unless the roster says the runner retrains anyway
        (15, False, False, False),  # not on the protocol, not retraining by the roster
        (15, True, False, True),  # retraining by the roster alone
    ],
    ids=[
        "rtr_phase_3",
        "rtr_day_6_phase_1",
        "rtr_day_7_phase_3_begins",
        "rtr_day_28_phase_3_with_phase_4",
        "rtr_day_41_last_day",
        "rtr_day_42_over",
        "rtr_over_roster_retraining",
        "no_rtr_no_retraining",
        "roster_retraining",
    ],
)
def test_a_runner_in_return_to_run_phase_3_counts_as_retraining_cadence(day, cadence_retraining, rtr, fires):
    decisions = run_decisions(evaluation(7.0, as_of=START_MS + day * DAY_MS), facts(cadence_retraining, rtr))
    assert [d.rule for d in decisions if d.rule == "cadence_target"] == (["cadence_target"] if fires else [])


# --- the baseline frozen at the start date (RULES.md §1) -----------------------------------------


def cadence_run(day, cadence):
    start = START_MS + day * DAY_MS
    return RunSummary(
        run_id=f"r{day}",
        device_id="pod-1",
        start_ms=start,
        end_ms=start + 1_800_000,
        km=5.0,
        samples=1800,
        cadence_spm=cadence,
    )


# 160 spm before the start date (the frozen baseline), then the runner rises to 168-172 spm
BEFORE = [cadence_run(day, 160.0) for day in (-6, -4, -2)]
AFTER = [cadence_run(day, 172.0) for day in (20, 22, 24, 26)]


@pytest.mark.parametrize(
    "entry, fires",
    [
        # retraining since the start date: 172 is +7.5 % over the 160 frozen then (RULES changed)
        (RunnerEntry(cadence_retraining=True, cadence_retraining_since=START), True),
        # the coach's baseline wins over the median at the start: 172 over 165 is +4.2 %, short of +5 %
        (RunnerEntry(cadence_retraining=True, cadence_retraining_since=START, baseline_cadence_spm=165.0), False),
        # return to run: phase 3 on day 28 freezes the baseline at the protocol's start, 160
        (RunnerEntry(return_to_run=ReturnToRun(start=START, normal_week_km=40.0)), True),
        # retraining without a start date: the rolling baseline, now 172 itself: 0 %, not on target
        (RunnerEntry(cadence_retraining=True), False),
    ],
    ids=["frozen_at_retraining_start", "roster_baseline_frozen", "frozen_at_rtr_start", "no_start_date_rolling"],
)
def test_cadence_target_measures_against_the_baseline_frozen_at_the_start_date(entry, fires):
    latest = cadence_run(28, 172.0)
    runs = (*BEFORE, *AFTER, latest)
    rolling = 172.0  # what the stream's 28-day median has drifted to
    load = LoadSnapshot(
        as_of_ms=latest.end_ms,
        week_km=10.0,
        prev_week_km=10.0,
        change_pct=0.0,
        chronic_week_km=10.0,
        acwr=1.0,
        acwr_ewma=1.0,
        history_days=60.0,
    )
    evaluation_ = RunEvaluation(run=latest, load=load, cadence_baseline_spm=rolling, cadence_dev_pct=0.0, live=False)
    facts_ = RunnerFacts(runner="ana", team="red", entry=entry, runs=runs)
    targets = [d for d in run_decisions(evaluation_, facts_) if d.rule == "cadence_target"]
    assert [d.details["baseline_spm"] for d in targets] == ([entry.baseline_cadence_spm or 160.0] if fires else [])
