"""History of any age (RULES.md §7): the daily `load` points imported runs (re)write, and alerts
older than a week stored, not pushed."""

import asyncio
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.decide import RunnerFacts, pain_decisions, to_alerts
from alerts.history import (
    REACH_DAYS,
    daily_load_lines,
    is_pushed,
    load_days,
    loads_on,
    midnights,
    reaches_past_midnights,
)
from alerts.worker import AlertWorker, Memory
from footpod import kafka
from footpod.contract import Alert, PainReport, iso
from footpod.load import DAY_MS, load_at
from footpod.records import RunEvaluation, RunnerUpdate, RunSummary
from footpod.settings import Settings
from streams.step import RECENT_DAYS

HOUR_MS = 3_600_000


def ms(text):
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


NOW = ms("2026-11-25T15:00:00")  # a Wednesday afternoon
TODAY = ms("2026-11-25T00:00:00")


def run(end_ms, km=8.0, run_id=None):
    return RunSummary(
        run_id=run_id or f"run-{end_ms}",
        device_id="pod-1",
        start_ms=end_ms - HOUR_MS,
        end_ms=end_ms,
        km=km,
        samples=720,
        cadence_spm=172.0,
    )


def days_ago(days, hour=7):
    return TODAY - days * DAY_MS + hour * HOUR_MS


SEASON = tuple(run(days_ago(d)) for d in range(300, 0, -3))  # every third day for 300 days, the last yesterday


def test_a_run_reaches_the_midnights_of_the_longest_window():
    assert REACH_DAYS == 56  # the EWMA's 56 days (footpod.load.EWMA_DAYS) reach further than 28 days or 2 weeks


def test_the_stream_sends_the_runs_every_rewritten_midnight_needs():
    # a midnight up to REACH_DAYS after the oldest run touched needs REACH_DAYS before it: the update's
    # `recent` runs (streams.step.recent) start RECENT_DAYS before the oldest run touched
    assert REACH_DAYS <= RECENT_DAYS


@pytest.mark.parametrize(
    "old, new, expected",
    [
        # a runner new to the worker, one run ten days ago: every midnight since, rest days included
        ((), (run(days_ago(10)),), midnights(days_ago(9, 0), TODAY)),
        # a run today, lived live: today's midnight is before it, the daily round writes the next one
        ((), (run(NOW - HOUR_MS),), []),
        ((run(days_ago(3)),), (run(days_ago(3)), run(NOW - HOUR_MS)), []),
        # yesterday's run synced this morning: today's midnight now counts it
        ((run(days_ago(3)),), (run(days_ago(3)), run(days_ago(1))), [TODAY]),
        # the same runs again (a re-import): nothing to rewrite
        (SEASON, SEASON, []),
        # one run inserted 200 days ago, amid known runs: the 56 midnights it reaches, no more
        (
            SEASON,
            tuple(sorted((*SEASON, run(days_ago(200, 20))), key=lambda r: r.end_ms)),
            midnights(days_ago(199, 0), days_ago(144, 0)),
        ),
        # a run gone (another source's run of the same time counts now): the midnights it reached
        (SEASON, tuple(r for r in SEASON if r.end_ms != days_ago(201)), midnights(days_ago(200, 0), days_ago(145, 0))),
        # a run older than all known: from it to the first known run, then its reach
        (SEASON, (run(days_ago(400)), *SEASON), midnights(days_ago(399, 0), days_ago(300, 0))),
        # a run of 100 days ago changes, and nothing after the 56 days it reaches changes with it
        (
            (run(days_ago(400)), run(days_ago(100))),
            (run(days_ago(400)), run(days_ago(100), km=9.0)),
            midnights(days_ago(99, 0), days_ago(44, 0)),
        ),
    ],
)
def test_the_midnights_to_rewrite(old, new, expected):
    assert load_days(old, new, NOW) == expected


def test_no_midnight_after_today_is_written():
    assert max(load_days((), (run(days_ago(2)),), NOW)) == TODAY


end_days = st.lists(st.integers(min_value=0, max_value=400 * 24), min_size=1, max_size=40, unique=True)


@settings(max_examples=60, deadline=None)
@given(hours=end_days, batches=st.integers(min_value=1, max_value=6), data=st.data())
def test_runs_arriving_in_any_order_and_batches_leave_the_series_as_if_lived_live(hours, batches, data):
    """Every midnight from the first run's end to today holds the load of all the runs, whatever
    order the runs arrived in: the last write of each midnight saw every run its windows reach."""
    runs = [run(TODAY - hour * HOUR_MS - 1, km=1.0 + hour % 7) for hour in hours]
    order = data.draw(st.permutations(runs))
    cut = sorted(data.draw(st.lists(st.integers(0, len(order)), min_size=batches - 1, max_size=batches - 1)))
    written: dict[int, float] = {}
    known: tuple[RunSummary, ...] = ()
    for start, stop in zip([0, *cut], [*cut, len(order)], strict=True):
        now_known = tuple(sorted((*known, *order[start:stop]), key=lambda r: r.end_ms))
        days = load_days(known, now_known, NOW)
        for load in loads_on(now_known, days, 0):
            written[load.as_of_ms] = load.week_km, load.chronic_week_km, load.acwr_ewma
        known = now_known
    first = min(r.end_ms for r in runs)
    everything = sorted(runs, key=lambda r: r.end_ms)
    expected = {
        day: (lambda load: (load.week_km, load.chronic_week_km, load.acwr_ewma))(load_at(everything, day, 0))
        for day in midnights(first, TODAY)
    }
    assert written == expected


@settings(max_examples=40, deadline=None)
@given(hours=end_days, day=st.integers(min_value=0, max_value=420))
def test_the_load_from_the_runs_the_windows_reach_is_the_load_from_all(hours, day):
    runs = sorted((run(TODAY - hour * HOUR_MS, km=hour % 11 + 0.5) for hour in hours), key=lambda r: r.end_ms)
    as_of = TODAY - day * DAY_MS
    assert loads_on(runs, [as_of], 123) == [load_at(runs, as_of, 123)]


def test_the_daily_lines_carry_the_load_at_midnight_and_the_gate_then():
    facts = RunnerFacts(runner="ana", team="red", runs=(run(days_ago(2)), run(days_ago(1))))
    lines = daily_load_lines(facts, (), NOW)
    assert [line.rsplit(" ", 1)[1] for line in lines] == [str(days_ago(1, 0)), str(TODAY)]  # ms precision
    assert lines[-1].startswith("load,runner=ana,team=red ") and ",week_km=16 " in lines[-1]
    assert 'gate="progress"' in lines[-1]


# --- alerts caused by history: stored, not pushed --------------------------------------------------


def alert(ts_ms, rule="progression", id_="a1"):
    return Alert(
        id=id_,
        runner="ana",
        team="red",
        ts=iso(ts_ms),
        rule=rule,
        severity="warning",
        action="no_increase",
        message="m",
        details={},
    )


@pytest.mark.parametrize(
    "age_ms, within_days, pushed",
    [
        (0, 7, True),  # now
        (-300_000, 7, True),  # five minutes ahead (a device clock a little fast)
        (7 * DAY_MS, 7, True),  # exactly a week late: still published
        (7 * DAY_MS + 1000, 7, False),  # a second more: history, stored only
        (200 * DAY_MS, 7, False),  # last spring
        (2 * DAY_MS, 1, False),  # the setting decides
        (2 * DAY_MS, 30, True),
    ],
)
def test_an_alert_is_pushed_within_the_days_set(age_ms, within_days, pushed):
    assert is_pushed(alert(NOW - age_ms), NOW, within_days) is pushed


class FakePublisher:
    def __init__(self):
        self.sent: list[str] = []

    async def publish(self, topic, payload, retain=False):
        self.sent.append(topic)


class FakeNotifier:
    def __init__(self):
        self.offered: list[str] = []

    def offer(self, alert):
        self.offered.append(alert.id)


@pytest.fixture
def worker(tmp_path):
    settings = Settings(data_dir=tmp_path)
    worker = AlertWorker(kafka.create_app(settings, "footpod-alerts-unit"), settings)
    worker.publisher, worker.notifier = FakePublisher(), FakeNotifier()
    return worker


def test_history_alerts_are_stored_and_remembered_but_not_published_nor_notified(worker):
    memory = Memory((), [], set())
    now = int(datetime.now(UTC).timestamp() * 1000)
    old, recent = alert(now - 200 * DAY_MS, id_="old"), alert(now - DAY_MS, id_="recent")
    lines: list[str] = []
    published = asyncio.run(worker._publish_alerts([old, recent], memory, lines))
    assert published == 1
    assert worker.publisher.sent == ["alerts/red/ana"] and worker.notifier.offered == ["recent"]
    assert len(lines) == 2 and all(line.startswith("alert,") for line in lines)  # both stored
    assert memory.published == {"old", "recent"}
    assert asyncio.run(worker._publish_alerts([old, recent], memory, lines)) == 0  # once each
    assert len(lines) == 2


def test_pain_gate_and_see_physio_alerts_of_last_spring_are_stored_only(worker):
    """The same reports last spring and this month: only the alerts of the last week reach phones."""
    now = int(datetime.now(UTC).timestamp() * 1000)

    def alerts_of(shift_ms):
        # pain 2 (a gate that lifts by itself), pain 5 (reduce_volume), pain on 3 days over 16 days
        # under that gate (see_physio), then a clear report (the gate lifts)
        reports = [
            PainReport(ts=now - shift_ms - days * DAY_MS, score=score)
            for days, score in ((32, 2), (22, 5), (20, 3), (12, 3), (4, 3), (2, 0))
        ]
        facts = RunnerFacts(runner="ana", team="red", reports=tuple(reports))
        return to_alerts(pain_decisions(facts, now), "ana", "red")

    spring = alerts_of(250 * DAY_MS)
    fortnight = alerts_of(0)
    assert {"see_physio", "pain_gate"} <= {a.rule for a in spring}
    assert any(a.action == "progress" for a in spring)  # the gate's lift by time, too
    lines: list[str] = []
    assert asyncio.run(worker._publish_alerts(spring, Memory((), [], set()), lines)) == 0
    assert worker.publisher.sent == [] and worker.notifier.offered == []
    assert len(lines) == len(spring)
    recent = [a for a in fortnight if is_pushed(a, now, 7)]
    assert ("see_physio", "see_physio") in {(a.rule, a.action) for a in recent}
    assert asyncio.run(worker._publish_alerts(fortnight, Memory((), [], set()), lines)) == len(recent)
    assert worker.notifier.offered == [a.id for a in recent]


def evaluation(summary, live=False):
    return RunEvaluation(
        run=summary,
        load=load_at((summary,), summary.end_ms, summary.start_ms),
        cadence_baseline_spm=None,
        cadence_dev_pct=None,
        live=live,
    )


@pytest.mark.parametrize(
    "touched, reaches",
    [
        ((run(NOW - HOUR_MS),), False),  # a run of today, the usual update: no midnight before it
        ((run(TODAY + HOUR_MS + 60_000),), False),  # began a minute after midnight
        ((run(TODAY + HOUR_MS // 2),), True),  # began before midnight, ends after: today's midnight lay inside it
        ((run(NOW - HOUR_MS), run(days_ago(40))), True),  # an old run in the same batch
    ],
)
def test_only_an_update_touching_a_run_begun_before_todays_midnight_rewrites_midnights(touched, reaches):
    update = RunnerUpdate(
        runner="ana", team="red", touched=tuple(evaluation(r) for r in touched), latest=evaluation(touched[0])
    )
    assert reaches_past_midnights(update, NOW) is reaches
