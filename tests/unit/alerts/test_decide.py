"""A runner's status and alerts from everything known of them (`alerts.decide`, RULES.md §3, §5, §7)."""

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.decide import RunnerFacts, alerts_for, status_of
from footpod.contract import RED_FLAGS, PainReport, iso
from footpod.records import RunEvaluation, RunnerUpdate, RunSummary
from footpod.roster import ReturnToRun, RunnerEntry
from tests.unit.builders import a_load, an_evaluation

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS


def ms(text):
    """Epoch milliseconds of an ISO 8601 time in UTC."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


MONDAY = ms("2026-11-23T06:00:00")  # ISO week 2026-W48; a run 06:00–07:00
END = MONDAY + HOUR_MS


def run(start=MONDAY, km=5.0, run_id=None):
    return RunSummary(
        run_id=run_id or f"run-{start}",
        device_id="pod-1",
        start_ms=start,
        end_ms=start + HOUR_MS,
        km=km,
        samples=3600,
        cadence_spm=175.0,
    )


RUN = run()


def evaluation(run_=RUN, week=5.0, prev=20.0):
    """The finished run with an unremarkable load: 5 km so far this week, 20 km the week before."""
    return an_evaluation(run_, a_load(run_.end_ms, week, prev, acwr=week / prev, chronic=prev))


def update(latest=None, runs=(RUN,)):
    latest = latest or evaluation()
    return RunnerUpdate(runner="ana", team="red", touched=(latest,), latest=latest, recent=tuple(runs))


def facts(reports=(), runs=(RUN,), entry=None):
    return RunnerFacts(runner="ana", team="red", entry=entry or RunnerEntry(), runs=tuple(runs), reports=tuple(reports))


def pain(hours_after_run, score, **fields):
    return PainReport(ts=END + round(hours_after_run * HOUR_MS), score=score, **fields)


# --- status_of ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reports, gate, since_h, as_of_h, budget",
    [
        # no report: progress, 20 × 1.10 − 5 km left
        ([], "progress", None, 0, 17.0),
        # pain 2 two hours after the run: the status is as of that report, 20 × 1.00 − 5
        ([pain(2, 2)], "continue_no_increase", 2, 2, 15.0),
        # pain 4: maintain
        ([pain(2, 4)], "maintain", 2, 2, 15.0),
        # pain 6: reduce, 0.70 × the 20 km of the 7 days before the gate was set − 5 (RULES changed)
        ([pain(2, 6)], "reduce_volume", 2, 2, 9.0),
        # pain still there at the 24-hour check: reduce, since that check
        ([pain(2, 2), pain(22, 1)], "reduce_volume", 22, 22, 9.0),
        # pain 2 then a clear 24-hour check: continue, as the table's row says, for its 7 days
        ([pain(2, 2), pain(22, 0)], "continue_no_increase", 2, 22, 15.0),
        # pain 6 then a clear report the next day: reduce stays for its 7 days, since the pain report
        ([pain(2, 6), pain(22, 0)], "reduce_volume", 2, 22, 9.0),
        # swelling: see a clinician, nothing left to run
        ([pain(2, 1, flags=("swelling",))], "see_clinician", 2, 2, 0.0),
        # pain 2 reported two days before this run is still in force at the run's end
        ([pain(-48, 2, timing="after")], "continue_no_increase", -48, 0, 15.0),
    ],
    ids=[
        "no_reports_progress",
        "continue_after_pain_2",
        "maintain_after_pain_4",
        "reduce_after_pain_6",
        "reduce_after_next_day_pain",
        "continue_kept_after_clear_check",
        "reduce_not_cleared_within_7_days",
        "see_clinician_budget_0",
        "earlier_report_still_in_force",
    ],
)
def test_status_shows_the_gate_in_force_at_the_latest_event_with_its_budget(reports, gate, since_h, as_of_h, budget):
    # 20 km in the 7 days before any of these gates: 15 km last Friday and this run's 5 km
    runs = [run(start=MONDAY - 3 * DAY_MS, km=15.0), RUN]
    status = status_of(update(runs=runs), facts(reports, runs))
    assert status.gate == gate
    assert status.gate_since == (None if since_h is None else iso(END + since_h * HOUR_MS))
    assert status.as_of == iso(END + as_of_h * HOUR_MS)
    assert status.budget_km == pytest.approx(budget)


def test_status_budget_is_absent_without_a_previous_week_even_under_a_reduce_gate():
    latest = evaluation().model_copy(update={"load": evaluation().load.model_copy(update={"prev_week_km": 0.0})})
    status = status_of(update(latest), facts([pain(2, 6)]))
    assert (status.gate, status.budget_km) == ("reduce_volume", None)


RTR_START = date(2026, 11, 2)  # a Monday; MONDAY is day 21 of the protocol
RTR_START_MS = ms("2026-11-02T00:00:00")


def weekly_runs(km_, weeks=3):
    """One run of `km_` in each of the `weeks` weeks before the run at `end`."""
    return [run(start=END - i * WEEK_MS - 3 * DAY_MS, km=km_) for i in range(weeks)]


@pytest.mark.parametrize(
    "plan_start, runs, reports, expected",
    [
        (None, [RUN], [], None),  # not on the protocol
        (date(2026, 11, 30), [RUN], [], None),  # starts next week: not yet
        (date(2026, 11, 20), [RUN], [], "1"),  # day 3
        (date(2026, 11, 16), [RUN], [], "3"),  # day 7 exactly: phase 3 begins (phases overlap; RULES changed)
        (RTR_START, [RUN], [], "4"),  # day 21: phase 4 begins, the latest begun (RULES changed)
        (date(2026, 10, 20), [RUN], [], "4"),  # day 34
        (date(2026, 9, 21), [RUN], [], "5"),  # day 63, not complete: one short run
        (date(2026, 9, 21), [RUN, *weekly_runs(40.0)], [], "complete"),  # three weeks at normal, pain-free
        (date(2026, 9, 21), [RUN, *weekly_runs(40.0)], [pain(-48, 1)], "5"),  # … but pain 1 two days ago
    ],
    ids=[
        "no_protocol",
        "before_start",
        "phase_1",
        "phase_3",
        "phase_4_day_21",
        "phase_4",
        "phase_5",
        "complete",
        "phase_5_with_pain",
    ],
)
def test_status_shows_the_return_to_run_phase_or_complete(plan_start, runs, reports, expected):
    plan = None if plan_start is None else ReturnToRun(start=plan_start, normal_week_km=40.0)
    status = status_of(update(runs=runs), facts(reports, runs, RunnerEntry(return_to_run=plan)))
    assert status.rtr_phase == expected


# --- alerts_for ---------------------------------------------------------------------------------


WEEK_RUNS = [RUN, run(MONDAY + 2 * DAY_MS), run(MONDAY + 7 * DAY_MS)]  # Monday, Wednesday, the next Monday


def pain_alerts(reports):
    """Pain reports two hours after the runs of Monday, Wednesday (+48 h) or the next Monday (+168 h)."""
    alerts = alerts_for(update(runs=WEEK_RUNS), facts(reports, WEEK_RUNS))
    return [(a.rule, a.action, a.ts) for a in alerts if a.rule == "pain_gate"]


@pytest.mark.parametrize(
    "reports, expected",
    [
        # pain 2 on Monday and pain 4 on Wednesday: maintain is more severe, a new alert (RULES §7)
        (
            [pain(2, 2), pain(50, 4)],
            [
                ("pain_gate", "continue_no_increase", iso(END + 2 * HOUR_MS)),
                ("pain_gate", "maintain", iso(END + 50 * HOUR_MS)),
            ],
        ),
        # pain 2 on Monday and pain 3 on Wednesday: the same action in the same week, one alert
        ([pain(2, 2), pain(50, 3)], [("pain_gate", "continue_no_increase", iso(END + 2 * HOUR_MS))]),
        # pain 2 on Monday and again next Monday just as the first lifts: the gate never changes, one alert
        # (RULES changed: alerts follow the gate in force)
        ([pain(2, 2), pain(2 + 7 * 24, 2)], [("pain_gate", "continue_no_increase", iso(END + 2 * HOUR_MS))]),
        # … an hour later: the first lifted (progress) and the new pain sets continue again
        (
            [pain(2, 2), pain(3 + 7 * 24, 2)],
            [
                ("pain_gate", "continue_no_increase", iso(END + 2 * HOUR_MS)),
                ("pain_gate", "progress", iso(END + (2 + 7 * 24) * HOUR_MS)),
                ("pain_gate", "continue_no_increase", iso(END + (3 + 7 * 24) * HOUR_MS)),
            ],
        ),
        # a pain-free report publishes nothing
        ([pain(2, 0)], []),
    ],
    ids=[
        "more_severe_action_same_week_new_alert",
        "same_action_same_week_one_alert",
        "renewed_as_it_lifts_one_alert",
        "lift_then_new_pain_next_week",
        "pain_free_nothing",
    ],
)
def test_alerts_for_publishes_one_pain_alert_per_action_and_week(reports, expected):
    assert pain_alerts(reports) == expected


def test_a_more_severe_pain_action_in_the_same_week_has_a_new_alert_id():
    reports = [pain(2, 2), pain(50, 4)]
    alerts = [a for a in alerts_for(update(runs=WEEK_RUNS), facts(reports, WEEK_RUNS)) if a.rule == "pain_gate"]
    assert len({a.id for a in alerts}) == 2


def test_alerts_for_publishes_red_flags_and_see_physio_with_the_pain_rules():
    # pain 6 fifteen days ago (reduce, never cleared); under it, pain 14 and 7 days before this run and
    # during it with a red flag: 3 days, 14 apart, while a gate held (RULES changed: pain under progress
    # does not count; the milder pain 2 under reduce publishes nothing)
    reports = [pain(-15 * 24, 6), pain(-14 * 24, 2), pain(-7 * 24, 2), pain(-0.5, 1, flags=("giving_way",))]
    rules = {(a.rule, a.severity, a.action) for a in alerts_for(update(), facts(reports))}
    assert rules == {
        ("red_flag", "critical", "see_clinician"),
        ("pain_gate", "warning", "reduce_volume"),
        ("see_physio", "warning", "see_physio"),
    }


def test_simultaneous_reports_with_one_alert_id_publish_the_same_alert_in_either_order():
    # two red-flag reports at the same instant: one see_clinician alert, whichever arrived first
    swelling, locking = pain(2, 1, flags=("swelling",)), pain(2, 1, flags=("locking",))
    first = alerts_for(update(), facts([swelling, locking]))
    assert alerts_for(update(), facts([locking, swelling])) == first
    assert [a.action for a in first if a.rule == "red_flag"] == ["see_clinician"]


# --- the same facts in any order ---------------------------------------------------------------

FLAGS = RED_FLAGS
RUNS = [run(start=MONDAY + day * DAY_MS, km=5.0 + day, run_id=f"r{day}") for day in range(-14, 1, 2)]

reports_st = st.builds(
    PainReport,
    ts=st.integers(-15 * 48, 3 * 48).map(lambda half_hours: END + half_hours * HOUR_MS // 2),
    score=st.one_of(st.just(0), st.integers(0, 10)),
    timing=st.sampled_from([None, None, "during", "after", "next_day"]),
    worsening=st.sampled_from([False, False, True]),
    flags=st.one_of(st.just(()), st.tuples(st.sampled_from(FLAGS))),
    run_id=st.sampled_from([None, None, "r0", "r-4"]),
    distance_m=st.sampled_from([None, 2800.0, 3000.0, 3200.0, 5000.0]),
)


def outcome(reports, runs):
    entry = RunnerEntry(return_to_run=ReturnToRun(start=RTR_START, normal_week_km=30.0))
    facts_ = facts(reports, runs, entry)
    return alerts_for(update(runs=runs), facts_), status_of(update(runs=runs), facts_)


@given(reports=st.lists(reports_st, max_size=8), data=st.data())
def test_the_same_facts_in_any_order_or_twice_give_identical_alerts_and_status(reports, data):
    expected = outcome(reports, RUNS)
    assert outcome(reports, RUNS) == expected  # the same facts again
    duplicated = data.draw(st.lists(st.sampled_from(reports), max_size=3)) if reports else []
    shuffled = data.draw(st.permutations([*reports, *duplicated]))
    assert outcome(shuffled, data.draw(st.permutations(RUNS))) == expected


def test_the_daily_load_counts_the_runs_of_the_trailing_weeks_at_midnight():
    from alerts.decide import load_now

    runs = [run(start=MONDAY - days * DAY_MS) for days in (9, 6, 3, 0)]
    midnight = MONDAY - 6 * HOUR_MS + 3 * DAY_MS  # Thursday 00:00, three days after the last run
    load = load_now(update(runs=runs), facts(runs=runs), midnight)
    # this week: the runs 3 days and 0 days before Monday (6 days back is just outside); before: 6 and 9
    assert (load.week_km, load.prev_week_km) == (10.0, 10.0)
    assert load.as_of_ms == midnight


def test_under_reduce_the_budget_is_one_cut_of_the_week_before_the_gate_as_of_now():
    # 2 km a day for two weeks, pain 6 on Monday 08:00 (reduce_volume), then 1 km a day (RULES changed)
    from footpod.load import load_at

    days = [*range(-14, 0), *range(1, 8)]
    runs = [run(start=MONDAY + d * DAY_MS, km=2.0 if d < 0 else 1.0, run_id=f"d{d}") for d in days]
    report = PainReport(ts=MONDAY + 2 * HOUR_MS, score=6)
    last = runs[-1]
    latest = RunEvaluation(
        run=last,
        load=load_at(runs, last.end_ms, MONDAY - 30 * DAY_MS),
        cadence_baseline_spm=None,
        cadence_dev_pct=None,
        live=False,
    )
    known = facts([report], runs)
    # the 7 days before the gate: six runs of 2 km (days −6 … −1) = 12 km, so 8.4 km allowed
    # day 8, 08:00: days 2 … 7 in the window, 6 km; 8.4 − 6 = 2.4 (0.7 × last week's 11 km would be 1.7)
    status = status_of(update(latest, runs), known, now_ms=MONDAY + 8 * DAY_MS + 2 * HOUR_MS)
    assert (status.gate, status.week_km, status.budget_km) == ("reduce_volume", 6.0, 2.4)
    # day 12, four rest days later: only days 6 and 7 are left in the window, 2 km; 8.4 − 2 = 6.4
    status = status_of(update(latest, runs), known, now_ms=MONDAY + 12 * DAY_MS + 2 * HOUR_MS)
    assert (status.gate, status.week_km, status.budget_km) == ("reduce_volume", 2.0, 6.4)
