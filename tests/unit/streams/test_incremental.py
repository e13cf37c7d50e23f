"""A step shares the runner's history (runs judged whole, summarised once) instead of going through
every run again: whatever the runs and their order, its answers are those of a full recomputation."""

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from footpod.load import DAY_MS
from streams.runs import group_runs, summarise
from streams.state import HISTORY_AFTER_RUNS, RunnerState, device_km, evaluate, key_of, one_per_overlap
from streams.step import StepResult, recent, step
from tests.unit.streams.stream_histories import PARAMS, T0, ctx, run, settle

HOUR_MS = 3_600_000


def counted_from_scratch(state: RunnerState):
    """The runs that count, from every segment, grouped, summarised and chosen anew."""
    every = [
        summarise(device, group, PARAMS)
        for device, segments in state.devices.items()
        for group in group_runs(segments, PARAMS)
    ]
    every.sort(key=lambda r: (r.end_ms, r.device_id))
    winner_of = one_per_overlap(every)
    return [r for r in every if winner_of[key_of(r)] is r]


def assert_as_recomputed(result: StepResult, now_ms: int) -> None:
    """Every evaluation, the recent runs and the runs of the new state match a full recomputation."""
    state = result.state
    counted = counted_from_scratch(state)
    assert state.runs(PARAMS) == counted
    if result.update is None:
        return
    first_seen = state.first_seen_ms
    for evaluation in (*result.update.touched, result.update.latest):
        expected = evaluate(
            evaluation.run,
            counted,
            first_seen or evaluation.run.start_ms,
            now_ms,
            PARAMS,
            None,
            device_km(counted, evaluation.run.device_id, evaluation.run.end_ms),
            final=evaluation.final,
        )
        assert evaluation == expected
    touched = [evaluation.run for evaluation in result.update.touched]
    if result.update.recent_kind == "window":
        assert result.update.recent == recent(counted, touched)
    else:  # a delta: counted runs as they are now (tests/unit/test_stream_to_alerts.py takes them in)
        assert result.update.recent and all(run in counted for run in result.update.recent)


def without_memory(state: RunnerState) -> RunnerState:
    """The same segments in a state that has summarised nothing yet."""
    return RunnerState(runner=state.runner, first_seen_ms=state.first_seen_ms, devices=dict(state.devices))


run_spec = st.tuples(
    st.integers(0, 70),  # day
    st.integers(0, 23),  # hour
    st.sampled_from(["pod", "watch"]),  # two sources: their runs may overlap
    st.integers(1, 30),  # length in tens of seconds
    st.sampled_from(["1s", "5s", "1-10s"]),
    st.integers(1, 3),  # messages it arrives in
    st.booleans(),  # judged whole before the next run arrives
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    runs=st.lists(run_spec, min_size=1, max_size=12),  # more than HISTORY_AFTER_RUNS judged whole: made anew
    live_day=st.integers(0, 80),
    live_samples=st.integers(1, 8),
    seed=st.integers(0, 1000),
)
def test_steps_on_a_shared_history_answer_as_a_full_recomputation(runs, live_day, live_samples, seed):
    rng = random.Random(seed)
    state = RunnerState(runner="alice")
    now = T0 + 90 * DAY_MS

    def apply(result: StepResult, at_ms: int, previous: RunnerState, batch=None) -> RunnerState:
        assert_as_recomputed(result, at_ms)
        if batch is not None:  # the same samples on the same segments, with nothing summarised before
            fresh = step(without_memory(previous), batch, ctx(at_ms))
            assert (fresh.lines, fresh.update) == (result.lines, result.update)
        return result.state

    for day, hour, device, tens, every, messages, whole in runs:
        start = T0 + day * DAY_MS + hour * HOUR_MS
        samples = run(start, tens * 10, every=every, device=device, rng=rng, spm=160.0 + day % 13)
        cuts = sorted(rng.sample(range(1, len(samples)), k=min(messages - 1, len(samples) - 1)))
        for batch in (samples[a:b] for a, b in zip([0, *cuts], [*cuts, len(samples)])):
            now += 1000
            state = apply(step(state, batch, ctx(now)), now, state, batch)
        if whole:
            now += PARAMS.run_gap_ms + PARAMS.settle_ms
            state = apply(settle(state, now), now, state)
    live = run(T0 + live_day * DAY_MS + 23 * HOUR_MS, 10 * live_samples, device="pod", rng=rng)
    for sample in live:  # a live run: one sample a step
        now += 1000
        state = apply(step(state, [sample], ctx(now)), now, state, [sample])
    now += PARAMS.run_gap_ms + PARAMS.settle_ms
    apply(settle(state, now), now, state)


def test_a_live_step_after_a_season_reuses_the_seasons_summaries():
    state = RunnerState(runner="alice")
    for day in range(0, 60, 2):
        start = T0 + day * DAY_MS
        state = step(state, run(start, 300), ctx(start + 400_000)).state
        state = settle(state, start + 400_000 + PARAMS.run_gap_ms + PARAMS.settle_ms).state
    live_start = T0 + 61 * DAY_MS
    first = step(state, run(live_start, 10)[:1], ctx(live_start + 100))
    second = step(first.state, run(live_start, 10)[1:2], ctx(live_start + 1100))
    first.state.all_runs(PARAMS)
    history = first.state.history(PARAMS)
    after = second.state.all_runs(PARAMS)
    assert len(after.counted) == 31
    assert second.state.history(PARAMS) is history  # carried by the step, not made again
    assert len(history.runs.counted) >= 30 - HISTORY_AFTER_RUNS
    assert all(a is b for a, b in zip(history.runs.counted, after.counted))  # not summarised again


def test_runs_judged_whole_after_the_history_are_taken_into_a_new_one_and_still_count_once():
    state = RunnerState(runner="alice")
    now = T0
    for day in range(HISTORY_AFTER_RUNS + 3):
        start = T0 + day * DAY_MS
        now = start + 400_000
        result = step(state, run(start, 300, device=("pod", "watch")[day % 2]), ctx(now))
        assert_as_recomputed(result, now)
        now += PARAMS.run_gap_ms + PARAMS.settle_ms
        result = settle(result.state, now)
        assert_as_recomputed(result, now)
        state = result.state
    live = run(now + DAY_MS, 10)
    for sample in live:
        now = sample.ts + 200
        result = step(state, [sample], ctx(now))
        assert_as_recomputed(result, now)
        state = result.state
    assert len(state.history(PARAMS).runs.counted) > HISTORY_AFTER_RUNS  # made anew, with the runs after it
