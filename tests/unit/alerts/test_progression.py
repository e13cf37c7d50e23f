"""Weekly progression, ACWR, the weekly budget and `budget_reached` (RULES.md §2)."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.rules.progression import acwr, allowed_week_km, budget_km, budget_reached, progression
from footpod.thresholds import GATE_FACTORS
from tests.unit.builders import a_load, a_run, an_evaluation

NOW = 1_764_000_000_000  # 2025-11-24T16:00:00Z

# RULES.md §2 budget: the factor on last week's distance each pain gate allows this week
# ("hold" is the action of a progression alert, not a gate: the gates are one list, §3).
GATES = {
    "progress": 1.10,
    "maintain": 1.00,
    "continue_no_increase": 1.00,
    "reduce_volume": 0.70,
    "stop_run": 0.0,
    "see_clinician": 0.0,
}


def evaluation(
    week=10.0, prev=10.0, acwr=None, history_days=60.0, live=False, run_km=5.0, cadence=175.0, baseline=None, as_of=NOW
):
    """A run ending at `as_of` with the runner's load at that instant."""
    return an_evaluation(
        a_run(as_of, km=run_km, cadence=cadence),
        a_load(as_of, week, prev, acwr=acwr, history_days=history_days),
        baseline=baseline,
        live=live,
    )


def load(week, prev):
    return evaluation(week=week, prev=prev).load


# --- progression ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "week, prev, history_days, alerts",
    [
        (11.0, 10.0, 30, False),  # exactly +10 % is not an alert
        (33.0, 30.0, 30, False),  # exactly +10 % again, at a size where 1.1 × prev is exact in floats
        (11.01, 10.0, 30, True),  # just above +10 % is
        (15.0, 10.0, 30, True),  # well above
        (9.0, 10.0, 30, False),  # a lighter week
        (12.0, 0.0, 30, False),  # prev_week_km 0: no change to measure
        (12.0, 10.0, 13.9, False),  # history 13.9 days: a new runner's first weeks are not a progression
        (12.0, 10.0, 14.0, True),  # history exactly 14 days reaches back far enough
    ],
    ids=[
        "exactly_plus_10pct",
        "exactly_plus_10pct_30km",
        "just_above_10pct",
        "plus_50pct",
        "lighter_week",
        "prev_week_zero",
        "history_13.9_days",
        "history_14_days",
    ],
)
def test_progression_warns_only_above_ten_percent_with_two_weeks_of_history(week, prev, history_days, alerts):
    decisions = progression(evaluation(week=week, prev=prev, history_days=history_days))
    assert [(d.rule, d.severity, d.action) for d in decisions] == (
        [("progression", "warning", "hold")] if alerts else []
    )


def test_progression_carries_the_event_time_of_the_load():
    (decision,) = progression(evaluation(week=12.0, prev=10.0, as_of=NOW + 1234))
    assert decision.ts_ms == NOW + 1234


def test_progression_details_carry_both_weeks_and_the_change():
    (decision,) = progression(evaluation(week=13.0, prev=10.0))
    assert decision.details == {"week_km": 13.0, "prev_week_km": 10.0, "change_pct": pytest.approx(30.0)}


def test_progression_message_states_both_weeks_the_percent_and_says_to_hold():
    (decision,) = progression(evaluation(week=13.0, prev=10.0))
    assert "13.0 km" in decision.message and "10.0 km" in decision.message
    assert "30 %" in decision.message
    assert "hold" in decision.message.lower()


def test_progression_message_never_states_a_percent_within_the_limit():
    # 11.01 against 10 is +10.1 %: a whole-number percent would read "10 % more ... (limit +10 %)".
    (decision,) = progression(evaluation(week=11.01, prev=10.0))
    stated = float(re.search(r"([\d.]+) % more", decision.message).group(1))
    assert stated > 10


# --- acwr --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ratio, history_days, expected",
    [
        (1.0, 60, None),  # in the 0.8–1.3 sweet spot
        (1.3, 60, None),  # exactly 1.3 is still the sweet spot
        (1.31, 60, ("acwr_elevated", "info", "hold")),  # just above 1.3
        (1.5, 60, ("acwr_elevated", "info", "hold")),  # exactly 1.5 is elevated, not high
        (1.51, 60, ("acwr_high", "critical", "reduce_volume")),  # just above 1.5
        (2.5, 60, ("acwr_high", "critical", "reduce_volume")),  # far above
        (1.6, 27.9, None),  # less than 28 days of history: the chronic load means nothing yet
        (1.6, 28, ("acwr_high", "critical", "reduce_volume")),  # exactly 28 days is enough
        (None, 60, None),  # no chronic load, no ratio
    ],
    ids=[
        "sweet_spot",
        "exactly_1.3",
        "acwr_1.31",
        "exactly_1.5",
        "acwr_1.51",
        "acwr_2.5",
        "history_27.9_days",
        "history_28_days",
        "acwr_none",
    ],
)
def test_acwr_is_elevated_above_1_3_and_high_above_1_5_after_28_days(ratio, history_days, expected):
    decisions = acwr(evaluation(week=20.0, acwr=ratio, history_days=history_days))
    assert [(d.rule, d.severity, d.action) for d in decisions] == ([expected] if expected else [])


@pytest.mark.parametrize(
    "week, ratio, floor, expected",
    [
        (10.0, 2.0, 5.0, ("acwr_high", "critical", "reduce_volume")),  # chronic exactly 5 km a week: judged
        (9.9, 2.0, 5.0, None),  # chronic 4.95 km a week: a return from a break, not overload (RULES changed)
        (3.0, 1.4, 5.0, None),  # elevated over a near-empty month (2.1 km a week): no alert either
        (9.9, 2.0, 4.0, ("acwr_high", "critical", "reduce_volume")),  # the floor is a setting: 4 km lets it through
    ],
    ids=["chronic_exactly_5km", "chronic_4.95km", "elevated_chronic_2.1km", "floor_setting_4km"],
)
def test_acwr_needs_a_chronic_week_of_at_least_the_floor(week, ratio, floor, expected):
    decisions = acwr(evaluation(week=week, acwr=ratio), floor)
    assert [(d.rule, d.severity, d.action) for d in decisions] == ([expected] if expected else [])


def test_acwr_details_carry_the_ratio_and_both_loads():
    (decision,) = acwr(evaluation(week=16.0, acwr=1.6))
    assert decision.details == {"acwr": 1.6, "week_km": 16.0, "chronic_week_km": 10.0}
    assert "1.60" in decision.message and "16.0 km" in decision.message and "10.0 km" in decision.message


# --- budget ------------------------------------------------------------------------------------


def test_the_gate_factors_are_those_of_the_rules_table():
    # one place per threshold: thresholds.GATE_FACTORS must say what RULES.md §2 says
    assert GATE_FACTORS == pytest.approx(GATES)


@pytest.mark.parametrize(
    "gate, week, prev, expected",
    [
        ("progress", 5.0, 20.0, 17.0),  # 20 × 1.10 − 5
        ("maintain", 5.0, 20.0, 15.0),  # 20 × 1.00 − 5
        ("continue_no_increase", 5.0, 20.0, 15.0),  # 20 × 1.00 − 5
        ("reduce_volume", 5.0, 20.0, 9.0),  # 20 × 0.70 − 5
        ("stop_run", 5.0, 20.0, 0.0),  # factor 0: nothing left
        ("see_clinician", 0.0, 20.0, 0.0),  # factor 0 even before running this week
        ("reduce_volume", 18.0, 20.0, 0.0),  # over the allowance: zero, never negative
        ("progress", 5.0, 0.0, None),  # no previous week: absent, not zero
    ],
    ids=[
        "progress_1.10",
        "maintain_1.00",
        "continue_1.00",
        "reduce_0.70",
        "stop_0",
        "see_clinician_0",
        "over_budget_is_zero",
        "prev_week_zero_absent",
    ],
)
def test_budget_is_last_week_times_the_gate_factor_minus_this_week(gate, week, prev, expected):
    assert budget_km(load(week, prev), gate) == (None if expected is None else pytest.approx(expected))


@given(
    week=st.floats(min_value=0, max_value=1_000, allow_nan=False),
    prev=st.one_of(st.just(0.0), st.floats(min_value=0, max_value=1_000, allow_nan=False)),
    gate=st.sampled_from(sorted(GATES)),
)
def test_budget_is_never_negative_and_absent_exactly_when_last_week_is_empty(week, prev, gate):
    budget = budget_km(load(week, prev), gate)
    if prev == 0:
        assert budget is None
    else:
        assert budget is not None and budget >= 0
        assert budget == pytest.approx(max(0.0, prev * GATES[gate] - week))


# --- budget_reached ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "gate, week, prev, run_km, live, fires",
    [
        ("maintain", 10.5, 10.0, 3.0, True, True),  # 7.5 → 10.5 crosses the 10 km allowed
        ("maintain", 10.5, 10.0, 0.5, True, True),  # 10.0 (exactly allowed) → 10.5 crosses
        ("progress", 11.5, 10.0, 2.0, True, True),  # 9.5 → 11.5 crosses the 11 km of +10 %
        ("reduce_volume", 15.0, 20.0, 2.0, True, True),  # 13 → 15 crosses the 14 km of −30 %
        ("stop_run", 0.1, 20.0, 0.1, True, True),  # gate 0: the first metres are over
        ("maintain", 12.0, 10.0, 1.0, True, False),  # 11 → 12: the week was over before this run
        ("maintain", 9.0, 10.0, 3.0, True, False),  # 6 → 9: still under
        ("maintain", 10.0, 10.0, 3.0, True, False),  # 7 → 10: exactly equal to allowed is not over
        ("maintain", 10.5, 10.0, 3.0, False, False),  # a finished run: only decided live
        ("maintain", 10.5, 0.0, 3.0, True, False),  # no previous week: no allowance to pass
    ],
    ids=[
        "crosses_limit",
        "from_exactly_allowed",
        "crosses_progress",
        "crosses_reduce",
        "crosses_stop",
        "already_over_before_run",
        "still_under",
        "exactly_allowed_not_over",
        "not_live",
        "prev_week_zero",
    ],
)
def test_budget_reached_fires_only_live_on_the_run_that_crosses_the_allowance(gate, week, prev, run_km, live, fires):
    decisions = budget_reached(evaluation(week=week, prev=prev, run_km=run_km, live=live), gate)
    assert [(d.rule, d.severity, d.action) for d in decisions] == (
        [("budget_reached", "info", "end_run")] if fires else []
    )


def test_budget_reached_details_carry_the_week_the_allowance_the_run_and_the_gate():
    (decision,) = budget_reached(evaluation(week=15.0, prev=20.0, run_km=2.0, live=True), "reduce_volume")
    assert decision.details == {"week_km": 15.0, "allowed_week_km": 14.0, "run_km": 2.0, "gate": "reduce_volume"}
    assert "15.0 km" in decision.message and "14.0 km" in decision.message
    assert decision.ts_ms == NOW


@pytest.mark.parametrize(
    "week, prev, reference, expected",
    [
        (5.0, 14.0, 20.0, 9.0),  # 0.70 × the 20 km before the gate was set − 5, not 0.70 × 14 (RULES changed)
        (0.0, 14.0, 20.0, 14.0),  # a rest week: the whole one cut is left
        (5.0, 14.0, 0.0, None),  # nothing run in the week before the gate: absent, not zero
        (5.0, 14.0, None, 4.8),  # no reference known: last week × 0.70 (14 × 0.7 − 5)
    ],
    ids=["reduce_once_on_week_before_gate", "reduce_rest_week", "reduce_reference_empty", "reduce_no_reference"],
)
def test_reduce_volume_cuts_the_week_before_the_gate_once(week, prev, reference, expected):
    budget = budget_km(load(week, prev), "reduce_volume", reference)
    assert budget == (None if expected is None else pytest.approx(expected))


def test_only_reduce_volume_uses_the_reference_week():
    assert budget_km(load(5.0, 20.0), "maintain", reference_km=100.0) == pytest.approx(15.0)


def test_allowed_week_km_is_absent_without_a_previous_week():
    assert allowed_week_km(load(5.0, 0.0), "progress") is None
