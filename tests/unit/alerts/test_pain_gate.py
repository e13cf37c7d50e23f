"""The pain gate (the 24-hour rule), how a gate lifts, red flags and `see_physio` (RULES.md §3)."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.rules.pain_gate import (
    gate_at,
    gate_decisions,
    history,
    pain_under_a_gate,
    rank,
    run_of,
    see_physio,
    settle_at,
    settled,
    timing_of,
)
from alerts.rules.progression import budget_km
from footpod.contract import RED_FLAGS, PainReport
from footpod.records import LoadSnapshot, RunSummary
from footpod.thresholds import GATE_FACTORS, GATES

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
# RULES.md §3 see_clinician: 000's and 004's red flags; the last four are new (RULES changed)
FLAGS = (
    "swelling",
    "locking",
    "giving_way",
    "instability",
    "cannot_bear_weight",
    "night_pain",
    "deformity",
    "trauma",
    "worse_at_rest",
    "systemic",
    "sharp_pain",
)


def ms(text):
    """Epoch milliseconds of an ISO 8601 time in UTC."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


T0 = ms("2026-11-23T06:00:00")  # a Monday morning run starts


def run(run_id="run-1", start=T0, minutes=60, device="pod-1"):
    return RunSummary(
        run_id=run_id,
        device_id=device,
        start_ms=start,
        end_ms=start + minutes * 60_000,
        km=8.0,
        samples=minutes * 60,
        cadence_spm=172.0,
    )


RUN = run()
END = RUN.end_ms  # 07:00


def report(ts=END + HOUR_MS, score=0, **fields):
    return PainReport(ts=ts, score=score, **fields)


def after(hours, score=0, **fields):
    """A report `hours` after RUN ended (negative: while it was under way)."""
    return report(END + round(hours * HOUR_MS), score, **fields)


def report_decisions(reports, runs):
    """The alert decisions of the gate an hour after the last report (before any lift by time)."""
    return gate_decisions(reports, runs, max((r.ts for r in reports), default=END) + HOUR_MS)


def decided(reports, runs=(RUN,)):
    return [(d.rule, d.severity, d.action) for d in report_decisions(reports, runs)]


def gate(reports, as_of, runs=(RUN,)):
    return gate_at(reports, runs, as_of).action


# --- the §3 decision table ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "reports, expected",
    [
        ([], None),  # no pain reported: progress, nothing to publish
        ([after(1, 0)], None),  # a pain-free report is progress too
        ([after(1, 2)], ("pain_gate", "info", "continue_no_increase")),  # pain 1–3 after a run
        ([after(-0.5, 2)], ("pain_gate", "info", "continue_no_increase")),  # pain 1–3 during a run
        ([after(1, 2), after(22, 0)], ("pain_gate", "info", "continue_no_increase")),  # … and the 24 h check says 0
        ([after(1, 4)], ("pain_gate", "warning", "maintain")),  # pain 4, no 24 h check yet
        ([after(22, 1)], ("pain_gate", "warning", "reduce_volume")),  # pain still there at the 24 h check
        ([after(1, 5)], ("pain_gate", "warning", "reduce_volume")),  # pain ≥ 5 at any time
        ([after(-0.5, 3, worsening=True)], ("pain_gate", "critical", "stop_run")),  # it got worse while running
        *[([after(1, 1, flags=(flag,))], ("red_flag", "critical", "see_clinician")) for flag in FLAGS],  # a red flag
    ],
    ids=[
        "progress_no_reports",
        "progress_pain_free_report",
        "continue_no_increase_after",
        "continue_no_increase_during",
        "continue_no_increase_next_day_zero",
        "maintain_pain_4",
        "reduce_volume_next_day_check",
        "reduce_volume_score_5",
        "stop_run_worsening",
        *[f"see_clinician_{flag}" for flag in FLAGS],
    ],
)
def test_each_report_is_published_with_the_rule_severity_and_action_of_its_table_row(reports, expected):
    published = decided(reports)
    assert published == ([expected] if expected else [])


@pytest.mark.parametrize(
    "reports, action",
    [
        ([], "progress"),  # no pain in the trailing 7 days
        ([after(1, 2)], "continue_no_increase"),  # pain 1–3
        ([after(1, 4)], "maintain"),  # pain 4
        ([after(22, 1)], "reduce_volume"),  # pain at the 24 h check
        ([after(1, 5)], "reduce_volume"),  # pain ≥ 5
        ([after(-0.5, 3, worsening=True)], "stop_run"),  # worse while running
        *[([after(1, 0, flags=(flag,))], "see_clinician") for flag in FLAGS],  # a red flag, even without pain
    ],
    ids=[
        "progress",
        "continue_no_increase",
        "maintain",
        "reduce_volume_next_day_check",
        "reduce_volume_score_5",
        "stop_run",
        *[f"see_clinician_{flag}" for flag in FLAGS],
    ],
)
def test_the_gate_an_hour_after_the_last_report_is_the_decision_of_its_table_row(reports, action):
    last = max((r.ts for r in reports), default=END)
    assert gate(reports, last + HOUR_MS) == action


@pytest.mark.parametrize(
    "score, action",
    [
        (1, "continue_no_increase"),  # the lowest pain of 1–3
        (3, "continue_no_increase"),  # exactly 3 is still 1–3
        (4, "maintain"),  # exactly 4 is its own row
        (5, "reduce_volume"),  # exactly 5 is "above 4/10"
        (10, "reduce_volume"),  # the worst pain without a flag or worsening is still reduce
    ],
    ids=["pain_1", "pain_exactly_3", "pain_exactly_4", "pain_exactly_5", "pain_10"],
)
def test_the_score_of_a_report_after_a_run_picks_continue_maintain_or_reduce(score, action):
    (decision,) = report_decisions([after(1, score)], [RUN])
    assert decision.action == action


def test_the_contract_red_flags_are_the_rules_red_flags():
    assert set(RED_FLAGS) == set(FLAGS)


def test_the_most_severe_row_wins_when_a_report_matches_several():
    # pain 6 that got worse, with swelling: the red flag is the most severe row
    assert decided([after(-0.5, 6, worsening=True, flags=("swelling",))]) == [("red_flag", "critical", "see_clinician")]


# --- timing: the 20 h check and explicit timing -------------------------------------------------


@pytest.mark.parametrize(
    "hours, timing, action",
    [
        (-0.5, "during", "continue_no_increase"),  # before the run ended: during
        (0, "after", "continue_no_increase"),  # at the very end of the run: after
        (19.9, "after", "continue_no_increase"),  # 19.9 h later: still an after-run report
        (20, "next_day", "reduce_volume"),  # exactly 20 h: the 24-hour check, pain persists
        (48, "next_day", "reduce_volume"),  # two days later: still the day-after check of that run
    ],
    ids=["during_negative_age", "after_age_0", "after_19.9h", "next_day_exactly_20h", "next_day_48h"],
)
def test_timing_is_derived_from_the_age_of_the_report_since_its_run_ended(hours, timing, action):
    report_ = after(hours, 2)
    assert timing_of(report_, run_of(report_, [RUN])) == timing
    (decision,) = report_decisions([report_], [RUN])
    assert (decision.details["timing"], decision.action) == (timing, action)


@pytest.mark.parametrize(
    "hours, timing, action",
    [
        (30, "after", "continue_no_increase"),  # 30 h later, but the runner says "after": no 24 h check
        (30, "during", "continue_no_increase"),  # 30 h later, reported as during the run
        (1, "next_day", "reduce_volume"),  # an hour later, but reported as the day-after check
    ],
    ids=["explicit_after_beats_30h", "explicit_during_beats_30h", "explicit_next_day_beats_1h"],
)
def test_an_explicit_timing_beats_the_one_derived_from_the_age(hours, timing, action):
    (decision,) = report_decisions([after(hours, 2, timing=timing)], [RUN])
    assert (decision.details["timing"], decision.action) == (timing, action)


def test_a_report_with_no_run_before_it_counts_as_after_a_run():
    (decision,) = report_decisions([report(T0 - DAY_MS, 2)], [RUN])
    assert decision.details["timing"] == "after" and decision.details["run_id"] is None


# --- which run a report belongs to -------------------------------------------------------------

YESTERDAY = run("run-yesterday", start=T0 - DAY_MS)  # ended 07:00 the day before
TODAY = run("run-today", start=T0 + 2 * HOUR_MS)  # 08:00–09:00


@pytest.mark.parametrize(
    "report_, run_id, timing",
    [
        # 10:00, naming yesterday's run: 27 h after it, so the 24-hour check
        (report(T0 + 4 * HOUR_MS, 2, run_id="run-yesterday"), "run-yesterday", "next_day"),
        # 08:30, inside today's run: the run under way, during it
        (report(T0 + 2 * HOUR_MS + 30 * 60_000, 2), "run-today", "during"),
        # 10:00, no run named: the latest run ended before it, an hour after it
        (report(T0 + 4 * HOUR_MS, 2), "run-today", "after"),
        # 07:30, between the runs: yesterday's run, the latest ended before it, 24.5 h after it
        (report(T0 + 90 * 60_000, 2), "run-yesterday", "next_day"),
        # naming a run not known: as if it named none
        (report(T0 + 4 * HOUR_MS, 2, run_id="run-unknown"), "run-today", "after"),
    ],
    ids=[
        "matched_by_run_id",
        "matched_by_run_under_way",
        "matched_by_latest_run_ended_before",
        "matched_between_runs",
        "unknown_run_id_falls_back",
    ],
)
def test_a_report_belongs_to_the_run_it_names_the_run_under_way_or_the_latest_run_before(report_, run_id, timing):
    runs = [TODAY, YESTERDAY]
    assert run_of(report_, runs).run_id == run_id
    (decision,) = report_decisions([report_], runs)
    assert (decision.details["run_id"], decision.details["timing"]) == (run_id, timing)


@pytest.mark.parametrize("order", [0, 1], ids=["runs_in_start_order", "runs_in_reverse_order"])
def test_a_report_during_two_overlapping_runs_belongs_to_the_one_started_last_in_any_order(order):
    # two footpods: one run 08:00–11:00, another 09:00–10:00; a report at 09:30 is in both
    long_run, short_run = run("run-long", start=T0 + 2 * HOUR_MS, minutes=180), run("run-short", start=T0 + 3 * HOUR_MS)
    runs = [long_run, short_run] if order == 0 else [short_run, long_run]
    assert run_of(report(T0 + 3 * HOUR_MS + 30 * 60_000, 2), runs).run_id == "run-short"


# --- how a decision stops holding ---------------------------------------------------------------

SET = END + HOUR_MS  # the report after(1, …) that sets the gate


@pytest.mark.parametrize(
    "reports, as_of, action",
    [
        # pain 2, an hour after the run: continue for its 7 days
        ([after(1, 2)], END + 2 * DAY_MS, "continue_no_increase"),
        # a clear 24-hour check keeps continue for its 7 days (the table's own row)
        ([after(1, 2), after(48, 0)], END + 48 * HOUR_MS, "continue_no_increase"),
        # … and it is progress once the 7 days are over
        ([after(1, 2), after(48, 0)], SET + 7 * DAY_MS, "progress"),
        # the last millisecond of the 7 days: still continue
        ([after(1, 2)], SET + 7 * DAY_MS - 1, "continue_no_increase"),
        # day 7 exactly: continue lifts by itself, no clear report needed (RULES changed)
        ([after(1, 2)], SET + 7 * DAY_MS, "progress"),
        ([after(1, 2)], END + 30 * DAY_MS, "progress"),
        # maintain: a later 0 report does not skip its 7 days …
        ([after(1, 4), after(24, 0)], END + 2 * DAY_MS, "maintain"),
        # … and it lifts by itself at day 7 exactly (RULES changed)
        ([after(1, 4)], SET + 7 * DAY_MS, "progress"),
        # a newer pain 2 on day 5 renews continue: 7 days from the newer report
        ([after(1, 2), after(1 + 5 * 24, 2, timing="after")], SET + 7 * DAY_MS, "continue_no_increase"),
        ([after(1, 2), after(1 + 5 * 24, 2, timing="after")], SET + 12 * DAY_MS, "progress"),
        # a 0 report that got worse is not clear: it is itself a stop
        ([after(1, 2), after(24, 0, worsening=True)], END + 2 * DAY_MS, "stop_run"),
        # a 0 report with a red flag is not clear either
        ([after(1, 2), after(24, 0, flags=("swelling",))], END + 2 * DAY_MS, "see_clinician"),
        # reduce_volume holds 7 days, even after a clear report 24 h later
        ([after(1, 6), after(25, 0)], END + 3 * DAY_MS, "reduce_volume"),
        ([after(1, 6), after(25, 0)], SET + 7 * DAY_MS - 1, "reduce_volume"),
        # a clear report exactly 24 h after: at day 7 exactly it steps down to continue (RULES changed)
        ([after(1, 6), after(25, 0)], SET + 7 * DAY_MS, "continue_no_increase"),
        # … which lifts by time 7 days later
        ([after(1, 6), after(25, 0)], SET + 14 * DAY_MS - 1, "continue_no_increase"),
        ([after(1, 6), after(25, 0)], SET + 14 * DAY_MS, "progress"),
        # a clear report 1 ms short of 24 h after is not the reassessment: reduce stays (RULES changed)
        ([after(1, 6), report(SET + 24 * HOUR_MS - 1, 0)], END + 30 * DAY_MS, "reduce_volume"),
        # reduce_volume stays while no clear report has come: time alone never lifts it
        ([after(1, 6)], END + 30 * DAY_MS, "reduce_volume"),
        ([after(1, 6), after(2, 3)], END + 30 * DAY_MS, "reduce_volume"),  # pain 3 is not clear
        # the clear report after day 7: reduce until it, then continue for 7 days
        ([after(1, 6), after(9 * 24, 0)], END + 9 * DAY_MS - 1, "reduce_volume"),
        ([after(1, 6), after(9 * 24, 0)], END + 9 * DAY_MS, "continue_no_increase"),
        ([after(1, 6), after(9 * 24, 0)], END + 16 * DAY_MS, "progress"),
        # a clear report before the reduce report does not lift it
        ([after(-0.5, 0), after(1, 6)], END + 30 * DAY_MS, "reduce_volume"),
        # stop_run and see_clinician lift the same way as reduce_volume
        ([after(-0.5, 3, worsening=True), after(24, 0)], END + 3 * DAY_MS, "stop_run"),
        ([after(-0.5, 3, worsening=True)], END + 30 * DAY_MS, "stop_run"),
        ([after(-0.5, 3, worsening=True), after(23.5, 0)], END - HOUR_MS // 2 + 7 * DAY_MS, "continue_no_increase"),
        ([after(1, 1, flags=("locking",))], END + 30 * DAY_MS, "see_clinician"),
        ([after(1, 1, flags=("locking",)), after(48, 0)], SET + 7 * DAY_MS, "continue_no_increase"),
        # the most severe decision in force wins: maintain then continue is maintain
        ([after(1, 4), after(3, 2)], END + 2 * DAY_MS, "maintain"),
        # … until maintain's 7 days are over: then the later continue, for its own 7 days
        ([after(1, 4), after(3, 2)], SET + 7 * DAY_MS, "continue_no_increase"),
        # continue then reduce is reduce
        ([after(1, 2), after(24, 6)], END + 2 * DAY_MS, "reduce_volume"),
        # a report after the instant asked about is not known yet
        ([after(1, 6)], END, "progress"),
    ],
    ids=[
        "continue_in_force",
        "continue_kept_7_days_after_clear_check",
        "continue_progress_after_7_days",
        "continue_last_ms_of_7_days",
        "continue_lifts_at_day_7_exactly",
        "continue_lifts_by_time",
        "maintain_keeps_7_days",
        "maintain_lifts_at_day_7_exactly",
        "continue_renewed_on_day_5",
        "renewed_continue_lifts_7_days_after_renewal",
        "worsening_0_is_not_clear",
        "flagged_0_is_not_clear",
        "reduce_holds_7_days_after_clear",
        "reduce_last_ms_of_7_days",
        "reduce_steps_down_at_day_7_after_clear_at_24h_exactly",
        "stepped_down_continue_last_ms",
        "stepped_down_continue_lifts_by_time",
        "clear_under_24h_does_not_count",
        "reduce_in_force_without_clear",
        "reduce_in_force_after_pain_3",
        "reduce_waits_for_late_clear",
        "reduce_steps_down_when_late_clear_arrives",
        "late_step_down_lifts_by_time",
        "clear_before_reduce_does_not_lift",
        "stop_run_holds_7_days",
        "stop_run_sticky_without_clear",
        "stop_run_steps_down_after_clear",
        "see_clinician_sticky",
        "see_clinician_steps_down_after_clear",
        "most_severe_maintain_over_continue",
        "later_continue_after_maintain_lifts",
        "most_severe_reduce_over_continue",
        "future_report_unknown",
    ],
)
def test_the_gate_in_force_is_the_most_severe_decision_still_holding(reports, as_of, action):
    assert gate(reports, as_of) == action


# --- alerts follow the gate in force -------------------------------------------------------------


def published(reports, as_of, runs=(RUN,)):
    return [(d.action, d.ts_ms) for d in gate_decisions(reports, runs, as_of)]


@pytest.mark.parametrize(
    "reports, as_of, expected",
    [
        # pain 2: continue at once, and a lifting alert (progress) at day 7 exactly
        ([after(1, 2)], SET + 7 * DAY_MS, [("continue_no_increase", SET), ("progress", SET + 7 * DAY_MS)]),
        # … not a millisecond before
        ([after(1, 2)], SET + 7 * DAY_MS - 1, [("continue_no_increase", SET)]),
        # pain 6 then pain 2 the next hour: the milder report under reduce publishes nothing (RULES changed)
        ([after(1, 6), after(2, 2)], END + 30 * DAY_MS, [("reduce_volume", SET)]),
        # pain 2 then pain 6: more severe, a new alert
        (
            [after(1, 2), after(2, 6)],
            END + 2 * DAY_MS,
            [("continue_no_increase", SET), ("reduce_volume", END + 2 * HOUR_MS)],
        ),
        # a renewal of the same gate is no change: one alert, one lift 7 days after the renewal
        (
            [after(1, 2), after(1 + 5 * 24, 2, timing="after")],
            SET + 12 * DAY_MS,
            [("continue_no_increase", SET), ("progress", SET + 12 * DAY_MS)],
        ),
        # reduce, clear 24 h later: the step down to continue publishes nothing; the lift does
        ([after(1, 6), after(25, 0)], SET + 14 * DAY_MS, [("reduce_volume", SET), ("progress", SET + 14 * DAY_MS)]),
        # a red flag under reduce is more severe: published as see_clinician
        (
            [after(1, 6), after(30, 1, flags=("trauma",))],
            END + 3 * DAY_MS,
            [("reduce_volume", SET), ("see_clinician", END + 30 * HOUR_MS)],
        ),
        # a second red flag under see_clinician: nothing new
        (
            [after(1, 1, flags=("trauma",)), after(30, 1, flags=("sharp_pain",))],
            END + 3 * DAY_MS,
            [("see_clinician", SET)],
        ),
    ],
    ids=[
        "continue_then_lift_at_day_7",
        "no_lift_before_day_7",
        "milder_under_reduce_silent",
        "escalation_published",
        "renewal_silent_lift_later",
        "step_down_silent_lift_published",
        "red_flag_over_reduce",
        "second_red_flag_silent",
    ],
)
def test_alerts_are_published_when_the_gate_gets_more_severe_or_lifts(reports, as_of, expected):
    assert published(reports, as_of) == expected


@pytest.mark.parametrize(
    "reports",
    [
        [after(1, 2)],
        [after(1, 4)],
        [after(1, 6)],
        [after(22, 1)],
        [after(-0.5, 3, worsening=True)],
        [after(1, 0, flags=("systemic",))],
        [after(1, 6), after(2, 2)],
        [after(1, 6), after(25, 0)],
    ],
    ids=[
        "continue",
        "maintain",
        "reduce",
        "reduce_next_day",
        "stop",
        "see_clinician",
        "reduce_then_milder",
        "reduce_step_down_lift",
    ],
)
def test_every_pain_message_names_the_gate_in_force(reports):
    words = {
        "progress": "'progress'",
        "continue_no_increase": "'continue, no increase'",
        "maintain": "'maintain'",
        "reduce_volume": "'reduce volume'",
        "stop_run": "'stop running'",
        "see_clinician": "'see a clinician'",
    }
    for decision in gate_decisions(reports, [RUN], END + 60 * DAY_MS):
        assert decision.details["gate"] == decision.action
        assert words[decision.action] in decision.message
        assert gate([r for r in reports if r.ts <= decision.ts_ms], decision.ts_ms) == decision.action


def test_messages_take_their_numbers_from_the_thresholds():
    (reduce,) = report_decisions([after(1, 6)], [RUN])
    factor = GATE_FACTORS["reduce_volume"]
    assert f"{factor * 100:.0f} %" in reduce.message and f"{(1 - factor) * 100:.0f} %" in reduce.message
    assert "third" not in reduce.message
    (stop,) = report_decisions([after(-0.5, 3, worsening=True)], [RUN])
    assert "physiotherapy assessment" in stop.message
    lift = gate_decisions([after(1, 2)], [RUN], SET + 7 * DAY_MS)[-1]
    assert (lift.rule, lift.severity, lift.action) == ("pain_gate", "info", "progress")
    assert f"{(GATE_FACTORS['progress'] - 1) * 100:.0f} % again" in lift.message


def test_the_history_lists_each_change_once_in_time_order():
    changes = history([after(1, 6), after(2, 2), after(25, 0)], [RUN])
    assert [(c.action, c.since_ms) for c in changes] == [
        ("reduce_volume", SET),
        ("continue_no_increase", SET + 7 * DAY_MS),
        ("progress", SET + 14 * DAY_MS),
    ]


def test_the_gate_names_the_report_and_run_that_set_it():
    pain = after(1, 6)
    in_force = gate_at([after(-0.5, 2), pain], [RUN], END + DAY_MS)
    assert (in_force.action, in_force.set_by, in_force.run_id) == ("reduce_volume", pain, "run-1")
    assert in_force.since_ms == pain.ts
    assert gate_at([], [RUN], END).set_by is None


def test_report_decisions_carry_the_report_time_and_its_inputs():
    (decision,) = report_decisions([after(1, 2, flags=("swelling", "night_pain"))], [RUN])
    assert decision.ts_ms == END + HOUR_MS
    assert decision.details == {
        "gate": "see_clinician",
        "score": 2,
        "timing": "after",
        "flags": "swelling,night_pain",
        "worsening": False,
        "run_id": "run-1",
    }
    assert "2/10" in decision.message and "swelling" in decision.message and "clinician" in decision.message


# --- see_physio ---------------------------------------------------------------------------------


def on_days(*days, score=2):
    return [report(T0 + day * DAY_MS, score) for day in days]


REDUCE_DAY_0 = report(T0, 6)  # pain 6 on day 0: reduce_volume until a clear report


@pytest.mark.parametrize(
    "reports, alert_day",
    [
        # under reduce from day 0, pain on days 1, 8 and 15: 3 days, 14 apart
        ([REDUCE_DAY_0, *on_days(1, 8, 15)], 15),
        # … days 1, 8 and 14: 13 apart, not yet
        ([REDUCE_DAY_0, *on_days(1, 8, 14)], None),
        # pain 2 on days 0, 7 and 14: each gate had lifted at day 7 exactly, so none counts (RULES changed)
        (on_days(0, 7, 14), None),
        # pain 2 on days 0, 5, 10, 15, 19: each under the continue of the one before; 5 to 19 is 14 days
        (on_days(0, 5, 10, 15, 19), 19),
        # … without day 19: 5 to 15 is 10 days; the first report, under progress, does not count (RULES changed)
        (on_days(0, 5, 10, 15), None),
        # two reports on one day count as one day
        ([REDUCE_DAY_0, *on_days(1, 1, 15)], None),
        # days 1, 14 and 29: day 1 is exactly 28 days before day 29, outside the window
        ([REDUCE_DAY_0, *on_days(1, 14, 29)], None),
        # days 2, 14 and 29: day 2 is still within the 28 days
        ([REDUCE_DAY_0, *on_days(2, 14, 29)], 29),
        # a pain-free report is not a pain day
        ([REDUCE_DAY_0, *on_days(1, 15), *on_days(8, score=0)], None),
    ],
    ids=[
        "reduce_days_1_8_15",
        "reduce_days_1_8_14",
        "weekly_pain_gates_lifted",
        "renewed_continue_14_days",
        "renewed_continue_10_days",
        "same_day_counts_once",
        "day_28_before_outside",
        "day_27_before_inside",
        "pain_free_day_not_counted",
    ],
)
def test_see_physio_needs_pain_on_3_days_14_days_apart_while_a_gate_held(reports, alert_day):
    decisions = see_physio(reports, [])
    assert [(d.rule, d.severity, d.action, d.ts_ms) for d in decisions] == (
        [("see_physio", "warning", "see_physio", T0 + alert_day * DAY_MS)] if alert_day is not None else []
    )


def test_see_physio_says_how_many_days_over_how_long():
    (decision,) = see_physio([REDUCE_DAY_0, *on_days(1, 8, 15)], [])
    assert decision.details == {"pain_days": 3, "span_days": 15}
    assert "3 days" in decision.message and "physiotherapist" in decision.message


# --- the settle rule (RULES.md §3 arrival order) ---------------------------------------------------

R = 1_000_000  # when the report arrived (ms)


@pytest.mark.parametrize(
    "last_arrival, now, done",
    [
        (None, R + 29_999, False),  # nothing else arrived: 30 s after the report …
        (None, R + 30_000, True),  # … exactly 30 s: settled
        (R - 60_000, R + 30_000, True),  # the last sample came a minute before the report: 30 s after the report
        (R + 10_000, R + 39_999, False),  # a sample 10 s after the report: 30 s after that sample …
        (R + 10_000, R + 40_000, True),  # … exactly
        (R + 100_000, R + 119_999, False),  # samples keep coming: not yet …
        (R + 100_000, R + 120_000, True),  # … but at most 2 min after the report
        (R + 119_000, R + 120_000, True),  # even with a sample a second ago
    ],
    ids=[
        "quiet_29.999s",
        "quiet_30s_exactly",
        "old_sample_30s",
        "sample_after_report_39.999s",
        "sample_after_report_40s",
        "busy_119.999s",
        "cap_2min_exactly",
        "cap_2min_busy",
    ],
)
def test_a_report_is_decided_once_the_runner_has_been_quiet_30_s_or_2_min_have_passed(last_arrival, now, done):
    assert settled(R, last_arrival, now) is done
    assert (now >= settle_at(R, last_arrival)) is done


# --- properties ---------------------------------------------------------------------------------

RUN_IDS = ("r0", "r1", "r2", "r3")
HORIZON_H = 24 * 24  # everything happens within 24 days of T0


@st.composite
def runs_st(draw):
    """Up to 4 runs of one runner, on an hourly grid, possibly overlapping (two footpods)."""
    count = draw(st.integers(min_value=0, max_value=len(RUN_IDS)))
    return [
        run(
            RUN_IDS[i],
            start=T0 + draw(st.integers(0, HORIZON_H)) * HOUR_MS,
            minutes=draw(st.sampled_from([30, 60, 90, 180])),
        )
        for i in range(count)
    ]


reports_st = st.builds(
    PainReport,
    ts=st.integers(0, HORIZON_H * 2).map(lambda half_hours: T0 + half_hours * HOUR_MS // 2),
    score=st.one_of(st.just(0), st.integers(0, 10)),
    timing=st.sampled_from([None, None, "during", "after", "next_day"]),
    worsening=st.sampled_from([False, False, True]),
    flags=st.one_of(st.just(()), st.tuples(st.sampled_from(FLAGS))),
    run_id=st.sampled_from([None, None, *RUN_IDS, "gone"]),
)


def instants(reports):
    """Every instant where the gate can change, and one just before and after each."""
    points = {T0, T0 + 40 * DAY_MS}
    for r in reports:
        for ts in (r.ts, r.ts + DAY_MS, r.ts + 7 * DAY_MS, r.ts + 14 * DAY_MS):
            points |= {ts - 1, ts, ts + 1}
    return sorted(points)


def worse(original, how, more):
    """A more severe version of a report: a higher score, an added red flag, or worsening."""
    if how == "score":
        return original.model_copy(update={"score": min(10, original.score + more)})
    if how == "flag":
        return original.model_copy(update={"flags": (*original.flags, FLAGS[more % len(FLAGS)])})
    return original.model_copy(update={"worsening": True})


@given(runs=runs_st(), reports=st.lists(reports_st, min_size=1, max_size=6), data=st.data())
def test_a_more_severe_report_never_makes_the_gate_less_severe_at_any_instant(runs, reports, data):
    index = data.draw(st.integers(0, len(reports) - 1))
    how = data.draw(st.sampled_from(["score", "flag", "worsening"]))
    more = data.draw(st.integers(1, 10))
    worsened = [*reports[:index], worse(reports[index], how, more), *reports[index + 1 :]]
    for as_of in instants(reports):
        assert rank(gate(worsened, as_of, runs)) >= rank(gate(reports, as_of, runs)), as_of


def decision_set(reports, runs):
    decisions = [*gate_decisions(reports, runs, T0 + 40 * DAY_MS), *see_physio(reports, runs)]
    return sorted(d.model_dump_json() for d in decisions)


@given(runs=runs_st(), reports=st.lists(reports_st, max_size=6), data=st.data())
def test_the_gate_and_the_decisions_do_not_depend_on_order_or_duplicated_reports(runs, reports, data):
    shuffled_runs = data.draw(st.permutations(runs))
    duplicated = data.draw(st.lists(st.sampled_from(reports), max_size=3)) if reports else []
    shuffled = data.draw(st.permutations([*reports, *duplicated]))
    assert set(decision_set(shuffled, shuffled_runs)) == set(decision_set(reports, runs))
    for as_of in instants(reports):
        assert shown(gate_at(shuffled, shuffled_runs, as_of)) == shown(gate_at(reports, runs, as_of)), as_of


def shown(gate_):
    """What the status shows of a gate: its action and since when."""
    return gate_.action, gate_.since_ms


@given(
    runs=runs_st(),
    reports=st.lists(reports_st, max_size=6),
    as_of_h=st.integers(0, HORIZON_H + 14 * 24),
    week=st.floats(min_value=0, max_value=500, allow_nan=False),
    prev=st.one_of(st.just(0.0), st.floats(min_value=0, max_value=500, allow_nan=False)),
)
def test_the_budget_under_the_gate_in_force_is_never_negative(runs, reports, as_of_h, week, prev):
    as_of = T0 + as_of_h * HOUR_MS
    load = LoadSnapshot(
        as_of_ms=as_of,
        week_km=week,
        prev_week_km=prev,
        change_pct=None,
        chronic_week_km=0.0,
        acwr=None,
        acwr_ewma=None,
        history_days=60.0,
    )
    in_force = gate_at(reports, runs, as_of)
    assert in_force.action in GATES
    budget = budget_km(load, in_force.action)
    assert budget is None or budget >= 0


@given(runs=runs_st(), reports=st.lists(reports_st, max_size=7))
def test_pain_counts_for_see_physio_exactly_when_the_earlier_reports_hold_a_gate_at_it(runs, reports):
    # the definition of RULES.md §3, report by report, against the one-pass computation
    expected = {
        r
        for r in reports
        if r.score >= 1 and gate_at([e for e in reports if e.ts < r.ts], runs, r.ts).action != "progress"
    }
    assert set(pain_under_a_gate(reports, runs)) == expected
