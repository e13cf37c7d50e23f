"""History of any age (RULES.md §7): windows follow the runner's own data, never the wall clock."""

import json

from footpod.load import DAY_MS
from streams.seed import state_from_rows
from streams.segments import join_all
from streams.state import RunnerState
from streams.step import step
from tests.unit.streams.stream_histories import PARAMS, T0, ctx, run, settle

NOW = T0 + 85 * DAY_MS  # synced 85 days after the runs


def three_weeks():
    """Week 1: 3 × 5 km; week 2: 3 × 5 km; week 3: 3 × 6 km (days 0-20, one run every ~2 days)."""
    runs = []
    for week, km in enumerate([5.0, 5.0, 6.0]):
        for day in (0, 2, 4):
            start = T0 + (week * 7 + day) * DAY_MS
            runs.append(run(start, int(km * 1000 / 2.5), mps=2.5, device="pod"))
    return runs


def test_three_weeks_synced_85_days_late_count_as_lived():
    result = step(RunnerState(runner="alice"), [s for r in three_weeks() for s in r], ctx(NOW))
    last = result.update.touched[-1].load  # as of the last run's end, in event time
    assert round(last.week_km, 6) == 18.0  # the 3 runs of week 3
    assert round(last.prev_week_km, 6) == 15.0
    assert round(last.chronic_week_km, 6) == round((15 + 15 + 18) / 4, 6)
    assert round(last.acwr, 6) == round(18 / 12, 6)


def test_an_old_run_synced_again_adds_nothing_to_the_shoe():
    samples = run(T0, 3000)
    state = settle(step(RunnerState(runner="alice"), samples, ctx(NOW)).state, NOW + PARAMS.settle_ms).state
    again = step(state, samples, ctx(NOW + 300 * DAY_MS))
    assert again.update is None
    newer = step(state, run(T0 + 200 * DAY_MS, 600, start_m=0.0), ctx(NOW + 300 * DAY_MS))
    assert round(newer.update.latest.device_km, 6) == round(9.0 + 1.8, 6)


def stored_rows(state: RunnerState) -> list[dict]:
    """What the `run` points hold: per run, its device and its segments joined."""
    runs = state.all_runs(PARAMS).every
    return [
        {"device": r.device_id, "segments": json.dumps([join_all(state.segments_of(r), PARAMS).model_dump()])}
        for r in runs
    ]


def test_an_old_run_synced_again_after_a_restart_adds_nothing_to_the_shoe():
    samples = run(T0, 3000)
    state = settle(step(RunnerState(runner="alice"), samples, ctx(NOW)).state, NOW + PARAMS.settle_ms).state
    restarted = state_from_rows("alice", stored_rows(state))
    assert step(restarted, samples, ctx(NOW + 400 * DAY_MS)).update is None
    assert restarted.runs(PARAMS) == state.runs(PARAMS)
