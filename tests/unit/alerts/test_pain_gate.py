"""The pain gate (the 24-hour rule), red flags and `see_physio` (RULES.md §3)."""

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.rules.pain_gate import GATES, gate_at, rank, report_decisions, see_physio, timing_of, run_of
from alerts.rules.progression import budget_km
from footpod.contract import PainReport
from footpod.records import LoadSnapshot, RunSummary

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
FLAGS = ("swelling", "locking", "giving_way", "instability", "cannot_bear_weight", "night_pain", "deformity")


def ms(text):
    """Epoch milliseconds of an ISO 8601 time in UTC."""
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() * 1000)


T0 = ms("2026-11-23T06:00:00")  # a Monday morning run starts


def run(run_id="run-1", start=T0, minutes=60, device="pod-1"):
    return RunSummary(run_id=run_id, device_id=device, start_ms=start, end_ms=start + minutes * 60_000, km=8.0,
                      samples=minutes * 60, cadence_spm=172.0)


RUN = run()
END = RUN.end_ms  # 07:00


def report(ts=END + HOUR_MS, score=0, **fields):
    return PainReport(ts=ts, score=score, **fields)


def after(hours, score=0, **fields):
    """A report `hours` after RUN ended (negative: while it was under way)."""
    return report(END + round(hours * HOUR_MS), score, **fields)


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
    ids=["progress_no_reports", "progress_pain_free_report", "continue_no_increase_after",
         "continue_no_increase_during", "continue_no_increase_next_day_zero", "maintain_pain_4",
         "reduce_volume_next_day_check", "reduce_volume_score_5", "stop_run_worsening",
         *[f"see_clinician_{flag}" for flag in FLAGS]],
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
    ids=["progress", "continue_no_increase", "maintain", "reduce_volume_next_day_check", "reduce_volume_score_5",
         "stop_run", *[f"see_clinician_{flag}" for flag in FLAGS]],
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


def test_the_most_severe_row_wins_when_a_report_matches_several():
    # pain 6 that got worse, with swelling: the red flag is the most severe row
    assert decided([after(-0.5, 6, worsening=True, flags=("swelling",))]) == [
        ("red_flag", "critical", "see_clinician")]


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
    ids=["matched_by_run_id", "matched_by_run_under_way", "matched_by_latest_run_ended_before",
         "matched_between_runs", "unknown_run_id_falls_back"],
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


# --- gate memory --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reports, as_of, action",
    [
        # pain 2, an hour after the run: continue until something says otherwise
        ([after(1, 2)], END + 2 * DAY_MS, "continue_no_increase"),
        # a clear 24-hour check keeps continue for its 7 days (the table's own row)
        ([after(1, 2), after(48, 0)], END + 48 * HOUR_MS, "continue_no_increase"),
        # … and lifts it to progress once the 7 days are over
        ([after(1, 2), after(48, 0)], END + HOUR_MS + 7 * DAY_MS, "progress"),
        # without a clear report the gate does not change back, even after 7 days
        ([after(1, 2)], END + HOUR_MS + 7 * DAY_MS - 1, "continue_no_increase"),
        ([after(1, 2)], END + 30 * DAY_MS, "continue_no_increase"),
        # maintain behaves like continue: a later 0 report does not skip its 7 days
        ([after(1, 4), after(24, 0)], END + 2 * DAY_MS, "maintain"),
        # a 0 report that got worse is not clear: it is itself a stop
        ([after(1, 2), after(24, 0, worsening=True)], END + 2 * DAY_MS, "stop_run"),
        # a 0 report with a red flag is not clear either
        ([after(1, 2), after(24, 0, flags=("swelling",))], END + 2 * DAY_MS, "see_clinician"),
        # reduce_volume is not cleared before its 7 days, even by a 0 report the next day
        ([after(1, 6), after(24, 0)], END + 3 * DAY_MS, "reduce_volume"),
        ([after(1, 6), after(24, 0)], END + HOUR_MS + 7 * DAY_MS - 1, "reduce_volume"),
        # reduce_volume stays in force after 7 days while no clear report has come
        ([after(1, 6)], END + 30 * DAY_MS, "reduce_volume"),
        ([after(1, 6), after(2, 3)], END + 30 * DAY_MS, "reduce_volume"),  # pain 3 is not clear
        # it lifts after 7 days once a clear report has come after it
        ([after(1, 6), after(24, 0)], END + HOUR_MS + 7 * DAY_MS, "progress"),
        # … or when the clear report arrives later than the 7 days
        ([after(1, 6), after(9 * 24, 0)], END + 9 * DAY_MS - 1, "reduce_volume"),
        ([after(1, 6), after(9 * 24, 0)], END + 9 * DAY_MS, "progress"),
        # a clear report before the reduce report does not lift it
        ([after(-0.5, 0), after(1, 6)], END + 30 * DAY_MS, "reduce_volume"),
        # stop_run and see_clinician keep the same memory as reduce_volume
        ([after(-0.5, 3, worsening=True), after(24, 0)], END + 3 * DAY_MS, "stop_run"),
        ([after(1, 1, flags=("locking",))], END + 30 * DAY_MS, "see_clinician"),
        # the most severe decision in force wins: maintain then continue is maintain
        ([after(1, 4), after(3, 2)], END + 2 * DAY_MS, "maintain"),
        # continue then reduce is reduce
        ([after(1, 2), after(24, 6)], END + 2 * DAY_MS, "reduce_volume"),
        # a report after the instant asked about is not known yet
        ([after(1, 6)], END, "progress"),
    ],
    ids=["continue_in_force", "continue_kept_7_days_after_clear_check", "continue_lifts_after_7_days_and_clear",
         "continue_last_ms_of_7_days", "continue_stays_without_clear", "maintain_keeps_7_days",
         "worsening_0_is_not_clear", "flagged_0_is_not_clear", "reduce_not_cleared_before_7_days",
         "reduce_last_ms_of_7_days", "reduce_in_force_after_7_days_without_clear",
         "reduce_in_force_after_pain_3", "reduce_lifts_after_7_days_and_clear", "reduce_waits_for_late_clear",
         "reduce_lifts_when_late_clear_arrives", "clear_before_reduce_does_not_lift", "stop_run_sticky",
         "see_clinician_sticky", "most_severe_maintain_over_continue", "most_severe_reduce_over_continue",
         "future_report_unknown"],
)
def test_the_gate_in_force_is_the_most_severe_decision_still_remembered(reports, as_of, action):
    assert gate(reports, as_of) == action


def test_the_gate_names_the_report_and_run_that_set_it():
    pain = after(1, 6)
    in_force = gate_at([after(-0.5, 2), pain], [RUN], END + DAY_MS)
    assert (in_force.action, in_force.set_by, in_force.run_id) == ("reduce_volume", pain, "run-1")
    assert gate_at([], [RUN], END).set_by is None


def test_report_decisions_carry_the_report_time_and_its_inputs():
    (decision,) = report_decisions([after(1, 2, flags=("swelling", "night_pain"))], [RUN])
    assert decision.ts_ms == END + HOUR_MS
    assert decision.details == {"score": 2, "timing": "after", "flags": "swelling,night_pain",
                                "worsening": False, "run_id": "run-1"}
    assert "2/10" in decision.message and "swelling" in decision.message and "clinician" in decision.message


# --- see_physio ---------------------------------------------------------------------------------


def on_days(*days, score=2):
    return [report(T0 + day * DAY_MS, score) for day in days]


@pytest.mark.parametrize(
    "reports, as_of_day, alerts",
    [
        (on_days(0, 20), 20, False),  # pain on 2 days only, however far apart
        (on_days(0, 6, 13), 13, False),  # 3 days, first and last 13 days apart
        (on_days(0, 7, 14), 14, True),  # 3 days, 14 days apart: time for a physio
        (on_days(0, 3, 5, 9, 16), 16, True),  # more days, 16 apart
        (on_days(0, 0, 14), 14, False),  # two reports on one day count as one day
        ([*on_days(0, 14), *on_days(7, score=0)], 14, False),  # a pain-free report is not a pain day
        (on_days(0, 14, 29), 29, False),  # day 0 is older than 28 days: 2 days left
        (on_days(2, 14, 29), 29, True),  # day 2 is still within the 28 days
        (on_days(0, 7, 14), 13, False),  # asked before the third day: not known yet
    ],
    ids=["two_days_none", "three_days_13_apart_none", "three_days_14_apart_alert", "five_days_16_apart_alert",
         "same_day_counts_once", "pain_free_day_not_counted", "first_day_outside_28_days",
         "first_day_inside_28_days", "later_reports_unknown"],
)
def test_see_physio_needs_pain_on_3_days_at_least_14_days_apart_within_28_days(reports, as_of_day, alerts):
    decisions = see_physio(reports, T0 + as_of_day * DAY_MS + HOUR_MS)
    assert [(d.rule, d.severity, d.action) for d in decisions] == (
        [("see_physio", "warning", "see_physio")] if alerts else [])


def test_see_physio_says_how_many_days_over_how_long():
    (decision,) = see_physio(on_days(0, 7, 14), T0 + 14 * DAY_MS)
    assert decision.details == {"pain_days": 3, "span_days": 15}
    assert decision.ts_ms == T0 + 14 * DAY_MS
    assert "3 days" in decision.message and "physiotherapist" in decision.message


# --- properties ---------------------------------------------------------------------------------

RUN_IDS = ("r0", "r1", "r2", "r3")
HORIZON_H = 24 * 24  # everything happens within 24 days of T0


@st.composite
def runs_st(draw):
    """Up to 4 runs of one runner, on an hourly grid, possibly overlapping (two footpods)."""
    count = draw(st.integers(min_value=0, max_value=len(RUN_IDS)))
    return [run(RUN_IDS[i], start=T0 + draw(st.integers(0, HORIZON_H)) * HOUR_MS,
                minutes=draw(st.sampled_from([30, 60, 90, 180])))
            for i in range(count)]


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
    """Every instant where the gate can change, and one just before each."""
    points = {T0, T0 + 40 * DAY_MS}
    for r in reports:
        for ts in (r.ts, r.ts + 7 * DAY_MS):
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
    worsened = [*reports[:index], worse(reports[index], how, more), *reports[index + 1:]]
    for as_of in instants(reports):
        assert rank(gate(worsened, as_of, runs)) >= rank(gate(reports, as_of, runs)), as_of


def decision_set(reports, runs):
    return sorted(d.model_dump_json() for d in report_decisions(reports, runs))


@given(runs=runs_st(), reports=st.lists(reports_st, max_size=6), data=st.data())
def test_the_gate_and_the_decisions_do_not_depend_on_order_or_duplicated_reports(runs, reports, data):
    shuffled_runs = data.draw(st.permutations(runs))
    duplicated = data.draw(st.lists(st.sampled_from(reports), max_size=3)) if reports else []
    shuffled = data.draw(st.permutations([*reports, *duplicated]))
    assert set(decision_set(shuffled, shuffled_runs)) == set(decision_set(reports, runs))
    for as_of in instants(reports):
        assert shown(gate_at(shuffled, shuffled_runs, as_of)) == shown(gate_at(reports, runs, as_of)), as_of


def shown(gate_):
    """What the status shows of a gate: its action and since when (of simultaneous equals, either may set it)."""
    return gate_.action, gate_.set_by.ts if gate_.set_by else None


@given(
    runs=runs_st(), reports=st.lists(reports_st, max_size=6),
    as_of_h=st.integers(0, HORIZON_H + 14 * 24),
    week=st.floats(min_value=0, max_value=500, allow_nan=False),
    prev=st.one_of(st.just(0.0), st.floats(min_value=0, max_value=500, allow_nan=False)),
)
def test_the_budget_under_the_gate_in_force_is_never_negative(runs, reports, as_of_h, week, prev):
    as_of = T0 + as_of_h * HOUR_MS
    load = LoadSnapshot(as_of_ms=as_of, week_km=week, prev_week_km=prev, change_pct=None, chronic_week_km=0.0,
                        acwr=None, acwr_ewma=None, history_days=60.0)
    in_force = gate_at(reports, runs, as_of)
    assert in_force.action in GATES
    budget = budget_km(load, in_force.action)
    assert budget is None or budget >= 0
