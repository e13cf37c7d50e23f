"""Alert identity and deduplication: one alert per (runner, rule, window, action) (RULES.md §7)."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.decide import alert_id, alerts_for, to_alert, window_of
from alerts.rules.decision import Decision
from footpod.records import RunnerUpdate
from tests.unit.builders import a_load, a_run, an_evaluation

DAY_MS = 86_400_000


def ms(text):
    """Epoch milliseconds of an ISO 8601 time in UTC."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


MONDAY = ms("2026-11-23T00:00:00")  # ISO week 2026-W48 starts


def evaluation(
    as_of=MONDAY, week=12.0, prev=10.0, acwr=None, history_days=60.0, cadence=175.0, live=False, run_id=None
):
    """A run ending at `as_of`; by default a +20 % week (a progression) at a good cadence."""
    return an_evaluation(
        a_run(as_of, cadence=cadence, run_id=run_id or f"run-{as_of}"),
        a_load(as_of, week, prev, acwr=acwr, history_days=history_days),
        live=live,
    )


def update(touched, latest=None, runner="ana", team="red"):
    touched = tuple(touched)
    return RunnerUpdate(runner=runner, team=team, touched=touched, latest=latest or touched[-1])


def decision(ts_ms, rule="progression", action="hold"):
    return Decision(rule=rule, severity="warning", action=action, ts_ms=ts_ms, message="m", details={})


# --- alert_id and window_of ----------------------------------------------------------------


@pytest.mark.parametrize(
    "other, same",
    [
        (("ana", "progression", "2026-W48", "hold"), True),  # the same facts: the same alert
        (("ana", "progression", "2026-W48", "reduce_volume"), False),  # a different action is a new alert
        (("ana", "acwr_high", "2026-W48", "hold"), False),  # another rule
        (("ana", "progression", "2026-W49", "hold"), False),  # another window
        (("bob", "progression", "2026-W48", "hold"), False),  # another runner
    ],
    ids=[
        "same_runner_rule_window_action",
        "different_action",
        "different_rule",
        "different_window",
        "different_runner",
    ],
)
def test_alert_id_is_the_same_exactly_for_the_same_runner_rule_window_and_action(other, same):
    assert (alert_id("ana", "progression", "2026-W48", "hold") == alert_id(*other)) is same


@pytest.mark.parametrize(
    "first, second, first_window, second_window",
    [
        # Monday 00:00 and Sunday 23:59:59.999: one ISO week
        ("2026-11-23T00:00:00", "2026-11-29T23:59:59.999", "2026-W48", "2026-W48"),
        # Sunday night and the Monday after: two ISO weeks, a millisecond apart
        ("2026-11-29T23:59:59.999", "2026-11-30T00:00:00", "2026-W48", "2026-W49"),
        # across New Year, both days still in ISO week 53 of 2026
        ("2026-12-31T12:00:00", "2027-01-03T12:00:00", "2026-W53", "2026-W53"),
        # the ISO year turns on Monday 4 January 2027
        ("2027-01-03T23:59:59", "2027-01-04T00:00:00", "2026-W53", "2027-W01"),
    ],
    ids=["same_iso_week", "next_iso_week", "same_iso_week_across_new_year", "iso_year_boundary"],
)
def test_two_event_times_share_an_alert_id_exactly_when_they_share_an_iso_week(
    first, second, first_window, second_window
):
    assert (window_of(ms(first)), window_of(ms(second))) == (first_window, second_window)
    a, b = (to_alert(decision(ms(t)), "ana", "red") for t in (first, second))
    assert (a.id == b.id) is (first_window == second_window)


def test_a_more_severe_action_for_the_same_rule_and_week_is_a_new_alert():
    hold = to_alert(decision(MONDAY, rule="acwr_elevated", action="hold"), "ana", "red")
    reduce = to_alert(decision(MONDAY + DAY_MS, rule="acwr_elevated", action="reduce_volume"), "ana", "red")
    assert hold.id != reduce.id


# --- alerts_for ----------------------------------------------------------------------------


def test_alerts_for_returns_an_alert_raised_by_two_touched_runs_of_one_week_once():
    # two runs on Tuesday and Thursday, both a +20 % week: one progression alert for the week
    update_ = update([evaluation(MONDAY + DAY_MS), evaluation(MONDAY + 3 * DAY_MS)])
    alerts = alerts_for(update_)
    assert [(a.rule, a.action) for a in alerts] == [("progression", "hold")]
    assert alerts[0].runner == "ana" and alerts[0].team == "red"


def test_alerts_for_keeps_one_alert_per_iso_week_for_the_same_rule():
    # Sunday and the Monday after: the same rule in two windows is two alerts
    update_ = update([evaluation(MONDAY + 6 * DAY_MS), evaluation(MONDAY + 7 * DAY_MS)])
    alerts = alerts_for(update_)
    assert [a.rule for a in alerts] == ["progression", "progression"]
    assert len({a.id for a in alerts}) == 2


def test_alerts_for_counts_the_latest_run_once_when_it_is_also_touched():
    latest = evaluation(MONDAY + DAY_MS)
    assert len(alerts_for(update([latest], latest=latest))) == 1


def test_alerts_for_the_same_update_twice_gives_identical_alerts():
    update_ = update([evaluation(MONDAY + DAY_MS, acwr=1.6, cadence=160.0), evaluation(MONDAY + 8 * DAY_MS)])
    first, second = alerts_for(update_), alerts_for(update_)
    assert first == second
    assert {a.rule for a in first} == {"progression", "acwr_high", "cadence_low"}


def test_alerts_for_a_live_latest_run_only_decides_the_budget():
    # a live run past the hold allowance ends the run; progression waits until it has ended
    live = evaluation(MONDAY + DAY_MS, week=12.0, prev=10.0, live=True, cadence=150.0)
    alerts = alerts_for(update([], latest=live))
    assert [(a.rule, a.action) for a in alerts] == [("budget_reached", "end_run")]


evaluations = st.builds(
    evaluation,
    as_of=st.integers(min_value=MONDAY, max_value=MONDAY + 21 * DAY_MS),  # three ISO weeks
    week=st.sampled_from([9.0, 11.0, 13.0, 20.0]),
    prev=st.sampled_from([0.0, 10.0]),
    acwr=st.sampled_from([None, 1.0, 1.4, 1.7]),
    cadence=st.sampled_from([None, 160.0, 175.0]),
)


@given(
    st.lists(evaluations, min_size=1, max_size=8).flatmap(
        lambda touched: st.tuples(st.just(touched), st.permutations(touched))
    )
)
def test_alerts_for_gives_the_same_ids_whatever_the_order_of_touched_runs(orders):
    touched, shuffled = orders
    latest = touched[0]
    ids = {a.id for a in alerts_for(update(touched, latest=latest))}
    assert {a.id for a in alerts_for(update(shuffled, latest=latest))} == ids
