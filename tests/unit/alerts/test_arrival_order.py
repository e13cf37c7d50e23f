"""A decision does not depend on arrival order (RULES.md §3): the same runs and reports, arriving in
any order within one sync (reports before their runs too), give the same final gate, the same set
of alert ids and the same status.

`replay` is the alert worker's logic without its I/O: runs arrive as the stream's updates (the
latest run evaluated with every run known), pain reports wait until the runner's data has settled
(`pain_gate.settled`) and are then decided against everything known.
"""

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.decide import RunnerFacts, alerts_for, pain_decisions, status_of, to_alerts
from alerts.rules.pain_gate import settle_at
from footpod.contract import RED_FLAGS, PainReport
from footpod.load import load_at
from footpod.records import RunEvaluation, RunnerUpdate, RunSummary
from footpod.roster import ReturnToRun, RunnerEntry

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
T0 = int(datetime(2026, 11, 2, 6, tzinfo=UTC).timestamp() * 1000)  # a Monday, 06:00
FIRST_SEEN = T0 - 60 * DAY_MS
ENTRY = RunnerEntry(
    return_to_run=ReturnToRun(start=datetime(2026, 10, 26).date(), normal_week_km=30.0), shoes={"pod-1": 470.0}
)
PAIN_RULES = {"pain_gate", "red_flag", "see_physio", "pain_mile"}


def update_for(runs: list[RunSummary], touched: RunSummary) -> RunnerUpdate:
    """What the stream sends when `touched` arrives: it and the latest run, evaluated with every run known."""

    def evaluate(run):
        return RunEvaluation(
            run=run,
            load=load_at(runs, run.end_ms, FIRST_SEEN),
            cadence_baseline_spm=None,
            cadence_dev_pct=None,
            live=False,
            device_km=sum(r.km for r in runs if r.end_ms <= run.end_ms),
        )

    latest = max(runs, key=lambda r: (r.end_ms, r.run_id))
    return RunnerUpdate(
        runner="ana",
        team="red",
        touched=(evaluate(touched),),
        latest=evaluate(latest),
        recent=tuple(sorted(runs, key=lambda r: r.end_ms)),
    )


def replay(arrivals: list[tuple[int, RunSummary | PainReport]]):
    """The worker over arrivals (received ms, item): the alert ids it publishes, its final gate and status."""
    runs: list[RunSummary] = []
    reports: list[PainReport] = []
    pending: list[tuple[int, PainReport]] = []
    published: set[str] = set()
    last_update, last_arrival = None, None

    def facts():
        return RunnerFacts(runner="ana", team="red", entry=ENTRY, runs=tuple(runs), reports=tuple(reports))

    def decide_settled(until_ms):
        """The waiting reports, together, once the runner's data has settled (as the worker does)."""
        if not pending or settle_at(min(r for r, _ in pending), last_arrival) > until_ms:
            return
        reports.extend(report for _, report in pending)
        pending.clear()
        known = facts()
        published.update(a.id for a in to_alerts(pain_decisions(known, known.latest_ms()), "ana", "red"))

    for received, item in sorted(arrivals, key=lambda a: a[0]):
        decide_settled(received)
        last_arrival = received
        if isinstance(item, PainReport):
            pending.append((received, item))
            continue
        runs.append(item)
        last_update = update_for(runs, item)
        published.update(a.id for a in alerts_for(last_update, facts()))
    decide_settled(10**15)
    final = facts()
    as_of = final.latest_ms()
    return published, final.gate(as_of), status_of(last_update, final)


def run(day, km=6.0):
    start = T0 + day * DAY_MS
    return RunSummary(
        run_id=f"run-{day}",
        device_id="pod-1",
        start_ms=start,
        end_ms=start + HOUR_MS,
        km=km,
        samples=3600,
        cadence_spm=172.0,
    )


reports_on = st.builds(
    lambda day, hours, score, timing, worsening, flags, distance: PainReport(
        ts=T0 + day * DAY_MS + round(hours * HOUR_MS),
        score=score,
        timing=timing,
        worsening=worsening,
        flags=flags,
        distance_m=distance,
    ),
    day=st.integers(0, 20),
    hours=st.sampled_from([0.5, 1.5, 3.0, 22.0, 25.0]),
    score=st.one_of(st.just(0), st.integers(0, 8)),
    timing=st.sampled_from([None, None, "during", "next_day"]),
    worsening=st.sampled_from([False, False, False, True]),
    flags=st.one_of(st.just(()), st.just(()), st.tuples(st.sampled_from(RED_FLAGS))),
    distance=st.sampled_from([None, 2900.0, 3000.0, 3300.0]),
)


@st.composite
def sync(draw):
    """Runs on some of 21 days (the last one always run) and reports about them."""
    days = sorted(draw(st.sets(st.integers(0, 20), min_size=1, max_size=8)) | {21})
    runs = [run(day, km=draw(st.sampled_from([4.0, 6.0, 9.0]))) for day in days]
    reports = draw(st.lists(reports_on, max_size=7))
    return runs, reports


def received_in_one_sync(items, gaps):
    """Received 0–14 s apart: one sync of at most 8 runs and 7 reports lasts under 2 minutes, and no
    gap reaches 30 s, so no report is decided before everything has arrived."""
    times, now = [], 1_000_000
    for gap in gaps:
        now += gap
        times.append(now)
    return list(zip(times, items))


def canonical(runs, reports):
    """Runs in event-time order, then the reports after them."""
    items = [*sorted(runs, key=lambda r: r.end_ms), *sorted(reports, key=lambda r: r.ts)]
    return replay(received_in_one_sync(items, [1000] * len(items)))


@settings(max_examples=60, deadline=None)
@given(data=sync(), draw=st.data())
def test_reports_in_any_order_around_runs_in_order_give_the_same_alerts_gate_and_status(data, draw):
    runs, reports = data
    # reports anywhere, before their runs too; the runs keep their order (the stream judges runs whole)
    slots = draw.draw(st.lists(st.integers(0, len(runs)), min_size=len(reports), max_size=len(reports)))
    items: list = list(sorted(runs, key=lambda r: r.end_ms))
    for report, slot in sorted(zip(reports, slots), key=lambda p: -p[1]):
        items.insert(slot, report)
    gaps = draw.draw(st.lists(st.integers(0, 14_000), min_size=len(items), max_size=len(items)))
    assert replay(received_in_one_sync(items, gaps)) == canonical(runs, reports)


@settings(max_examples=60, deadline=None)
@given(data=sync(), draw=st.data())
def test_runs_and_reports_in_any_order_give_the_same_pain_alerts_gate_and_status(data, draw):
    runs, reports = data
    items = draw.draw(st.permutations([*runs, *reports]))
    gaps = draw.draw(st.lists(st.integers(0, 14_000), min_size=len(items), max_size=len(items)))
    ids, gate, status = replay(received_in_one_sync(items, gaps))
    expected_ids, expected_gate, expected_status = canonical(runs, reports)
    known = RunnerFacts(runner="ana", team="red", entry=ENTRY, runs=tuple(runs), reports=tuple(reports))
    pain_ids = {a.id for a in to_alerts(pain_decisions(known, known.latest_ms()), "ana", "red")}
    assert ids & pain_ids == expected_ids & pain_ids == pain_ids
    assert (gate, status) == (expected_gate, expected_status)


def test_a_report_sent_before_its_run_gets_the_decision_it_gets_after_it():
    # pain 2, 22 h after Monday's run: the 24-hour check, so reduce_volume; the phone sends the report
    # first and syncs the run a few seconds later
    monday = run(0)
    report = PainReport(ts=monday.end_ms + 22 * HOUR_MS, score=2)
    before = replay([(1_000_000, report), (1_005_000, monday)])
    after = replay([(1_000_000, monday), (1_005_000, report)])
    assert before == after
    assert before[1].action == "reduce_volume"
