"""The return-to-run protocol: phases by week, the phase limits and completion (RULES.md §5)."""

from datetime import UTC, datetime

import pytest

from alerts.rules.return_to_run import completed, phase, phases, return_to_run
from footpod.contract import PainReport
from footpod.records import RunSummary
from tests.unit.builders import a_load, a_run, an_evaluation

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
START_MS = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp() * 1000)  # a Monday, 00:00 UTC
NORMAL = 40.0  # km a week before the injury


def evaluation(day, week=10.0, prev=10.0, live=False):
    """A finished run ending `day` days into the protocol, with the runner's load then."""
    as_of = START_MS + round(day * DAY_MS)
    return an_evaluation(
        a_run(as_of, run_id=f"run-{day}"),
        a_load(as_of, week, prev, acwr=1.0, chronic=week, history_days=day),
        live=live,
    )


def decide(evaluation_, runs=(), reports=(), gate="progress"):
    return [(d.rule, d.severity, d.action) for d in return_to_run(evaluation_, runs, reports, START_MS, NORMAL, gate)]


# --- phases -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "offset_ms, expected",
    [
        # the latest phase begun (status rtr_phase); RULES changed: phases overlap as in the source
        (-1, None),  # a millisecond before the start: not on the protocol yet
        (0, 1),  # day 0, week 1: phase 1 (weeks 1–2)
        (7 * DAY_MS - 1, 1),  # the last millisecond of day 6 is still week 1
        (7 * DAY_MS, 3),  # day 7, week 2: phase 3 begins (weeks 2–6), phase 1 still applies
        (21 * DAY_MS - 1, 3),  # the end of week 3
        (21 * DAY_MS, 4),  # day 21, week 4: phase 4 begins (weeks 4–8)
        (49 * DAY_MS - 1, 4),  # the end of week 7
        (49 * DAY_MS, 5),  # day 49, week 8: phase 5 begins
        (200 * DAY_MS, 5),  # long after: still phase 5 until complete
    ],
    ids=[
        "before_start",
        "day_0",
        "day_6_last_ms",
        "day_7",
        "day_20_last_ms",
        "day_21",
        "day_48_last_ms",
        "day_49",
        "day_200",
    ],
)
def test_the_latest_phase_begun_follows_the_weeks_since_the_start(offset_ms, expected):
    assert phase(START_MS, START_MS + offset_ms) == expected


@pytest.mark.parametrize(
    "day, expected",
    [
        (0, [1]),  # week 1: phase 1 alone (phase 2, strength, is not measured)
        (7, [1, 3]),  # day 7, week 2: phase 1 and the cadence target overlap
        (14, [3]),  # day 14, week 3: phase 1 is over
        (21, [3, 4]),  # day 21, week 4: phase 4 begins, the cadence target stays
        (28, [3, 4]),  # day 28, week 5: still both (days 28–41 keep the cadence target)
        (41, [3, 4]),  # day 41, the last day of week 6: the last day of phase 3
        (42, [4]),  # day 42, week 7: phase 3 is over
        (49, [4, 5]),  # day 49, week 8: phases 4 and 5 overlap
        (56, [5]),  # day 56, week 9: phase 5 alone
    ],
    ids=["day_0", "day_7", "day_14", "day_21", "day_28", "day_41", "day_42", "day_49", "day_56"],
)
def test_the_phases_in_force_overlap_as_in_the_source(day, expected):
    assert phases(START_MS, START_MS + day * DAY_MS) == expected


# --- phase 1: half the normal week --------------------------------------------------------------


@pytest.mark.parametrize(
    "week, expected",
    [
        (20.1, [("rtr_over_limit", "warning", "reduce_volume")]),  # over 50 % of 40 km
        (20.0, []),  # exactly 50 %: within the limit
        (8.0, []),  # well within
    ],
    ids=["over_50pct", "exactly_50pct", "under_50pct"],
)
def test_phase_1_asks_to_reduce_volume_only_above_half_the_normal_week(week, expected):
    assert decide(evaluation(3, week=week, prev=0.0)) == expected


def test_phase_1_applies_through_week_2_and_not_after():
    assert decide(evaluation(13, week=25.0, prev=0.0)) == [("rtr_over_limit", "warning", "reduce_volume")]
    assert decide(evaluation(14, week=25.0, prev=0.0)) == []


def test_runs_before_the_start_date_do_not_count_for_phase_1():
    # day 2: 25 km this week, of which a 10 km run began the day before the start (RULES changed)
    before = RunSummary(
        run_id="before",
        device_id="pod-1",
        start_ms=START_MS - DAY_MS,
        end_ms=START_MS - DAY_MS + 3_600_000,
        km=10.0,
        samples=3600,
        cadence_spm=175.0,
    )
    assert decide(evaluation(2, week=25.0, prev=0.0), runs=[before]) == []
    assert decide(evaluation(2, week=30.1, prev=0.0), runs=[before]) == [("rtr_over_limit", "warning", "reduce_volume")]


def test_phase_1_over_limit_says_the_week_the_limit_and_the_normal_week():
    (decision,) = return_to_run(evaluation(3, week=25.0, prev=0.0), [], [], START_MS, NORMAL, "progress")
    assert decision.details == {"phase": 1, "week_km": 25.0, "normal_week_km": 40.0, "limit_km": 20.0}
    assert "25.0 km" in decision.message and "20.0 km" in decision.message


# --- phase 4: add distance only while the gate is progress ---------------------------------------


@pytest.mark.parametrize(
    "week, prev, gate, expected",
    [
        (12.0, 10.0, "continue_no_increase", [("rtr_over_limit", "warning", "hold")]),  # more while in pain
        (12.0, 10.0, "reduce_volume", [("rtr_over_limit", "warning", "hold")]),  # more under a reduce gate
        (12.0, 10.0, "progress", []),  # more while pain-free: allowed
        (10.0, 10.0, "maintain", []),  # the same as last week: no increase
        (8.0, 10.0, "maintain", []),  # less than last week
    ],
    ids=[
        "increase_gate_continue",
        "increase_gate_reduce",
        "increase_gate_progress",
        "same_week_gate_maintain",
        "lighter_week_gate_maintain",
    ],
)
def test_phase_4_holds_an_increase_unless_the_gate_is_progress(week, prev, gate, expected):
    assert decide(evaluation(30, week=week, prev=prev), gate=gate) == expected


def test_phase_4_hold_names_the_gate_and_both_weeks():
    (decision,) = return_to_run(evaluation(30, week=12.0, prev=10.0), [], [], START_MS, NORMAL, "maintain")
    assert decision.details["gate"] == "maintain" and decision.details["prev_week_km"] == 10.0
    assert "maintain" in decision.message and "12.0 km" in decision.message


# --- phase 5: completion ------------------------------------------------------------------------

AS_OF_DAY = 80  # phase 5


def weeks_of_runs(*kms):
    """One run a week, mid-week, in each of the last weeks before day 80 (newest first)."""
    as_of = START_MS + AS_OF_DAY * DAY_MS
    return [
        RunSummary(
            run_id=f"w{i}",
            device_id="pod-1",
            start_ms=as_of - i * WEEK_MS - 3 * DAY_MS - 3_600_000,
            end_ms=as_of - i * WEEK_MS - 3 * DAY_MS,
            km=km_,
            samples=3600,
            cadence_spm=175.0,
        )
        for i, km_ in enumerate(kms)
    ]


def pain(days_ago, score):
    return PainReport(ts=START_MS + (AS_OF_DAY - days_ago) * DAY_MS, score=score)


@pytest.mark.parametrize(
    "runs, reports, done",
    [
        (weeks_of_runs(40, 40, 40), [], True),  # three weeks at the normal 40 km, no pain
        (weeks_of_runs(45, 41, 40.0), [], True),  # at or over normal each week
        (weeks_of_runs(40, 39.9, 40), [], False),  # one week just short of normal
        (weeks_of_runs(40, 40), [], False),  # only two weeks of it
        (weeks_of_runs(40, 40, 40), [pain(10, 1)], False),  # pain 1 ten days ago
        (weeks_of_runs(40, 40, 40), [pain(10, 0)], True),  # a pain-free report does not count
        (weeks_of_runs(40, 40, 40), [pain(22, 3)], True),  # pain before the three weeks is history
    ],
    ids=[
        "three_normal_weeks",
        "over_normal_weeks",
        "one_week_short",
        "two_weeks_only",
        "pain_1_within",
        "pain_0_within",
        "pain_before_three_weeks",
    ],
)
def test_phase_5_is_complete_after_three_normal_weeks_without_pain(runs, reports, done):
    expected = [("rtr_complete", "info", "resume_training")] if done else []
    assert decide(evaluation(AS_OF_DAY, week=40.0, prev=40.0), runs=runs, reports=reports) == expected
    assert completed(runs, reports, NORMAL, START_MS + AS_OF_DAY * DAY_MS) is done


@pytest.mark.parametrize(
    "evaluation_",
    [
        evaluation(-1, week=30.0, prev=0.0),  # before the start: not on the protocol yet
        evaluation(3, week=30.0, prev=0.0, live=True),  # a live run: decided when it has ended
    ],
    ids=["before_start", "live_run"],
)
def test_nothing_is_decided_before_the_start_or_during_a_run(evaluation_):
    assert decide(evaluation_) == []
