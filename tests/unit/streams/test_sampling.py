"""Any sampling rate (issue 8): counting once with a state that grows with runs, not samples."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from footpod.load import DAY_MS, load_at
from streams.state import RunnerState
from tests.unit.streams.stream_histories import PARAMS, T0, deliver, run, settle, shuffled_batches

RATES = ["1s", "5s", "1-10s"]


def history(rng: random.Random, every: str, shape: list[tuple[int, int, float]]):
    """Runs of (seconds, hours before the next, pace), sampled `every`; the truth in km per run."""
    samples, truth, start = [], [], T0
    for seconds, pause_h, mps in shape:
        samples += run(start, seconds, every, mps=mps, rng=rng)
        truth.append(mps * seconds / 1000)
        start += seconds * 1000 + pause_h * 3_600_000
    return samples, truth


def segment_count(state: RunnerState) -> int:
    return sum(len(segments) for segments in state.devices.values())


shapes = st.lists(
    st.tuples(st.integers(30, 120).map(lambda n: n * 10), st.integers(1, 30), st.floats(2.0, 5.0)),
    min_size=1,
    max_size=4,
)


@settings(max_examples=40, deadline=None)
@given(shape=shapes, seed=st.integers(0, 10_000), pieces=st.integers(1, 12), repeats=st.integers(0, 3))
def test_any_rate_and_arrival_order_gives_the_same_runs_and_one_segment_per_run(shape, seed, pieces, repeats):
    found, loads = {}, {}
    for every in RATES:
        rng = random.Random(seed)
        samples, truth = history(rng, every, shape)
        now = samples[-1].ts + 10 * DAY_MS  # a sync of old runs: over in event time
        state, _ = deliver(shuffled_batches(samples, rng, pieces, repeats), now)
        state = settle(state, now + pieces * 1000 + PARAMS.settle_ms).state
        runs = state.runs(PARAMS)
        found[every] = [(r.start_ms, r.end_ms) for r in runs]
        load = load_at(runs, runs[-1].end_ms, state.first_seen_ms)
        loads[every] = (load.week_km, load.chronic_week_km)
        for got, expected in zip([r.km for r in runs], truth, strict=True):
            assert abs(got - expected) <= 0.001 * expected  # within 0.1 %
        assert segment_count(state) == len(shape)  # grows with runs, not samples
        again, _ = deliver([samples], now + DAY_MS, state=state)  # the whole history synced again
        assert [r.km for r in again.runs(PARAMS)] == [r.km for r in runs]
    assert found["1s"] == found["5s"] == found["1-10s"]
    for every in RATES:
        assert all(abs(a - b) <= 0.001 * b for a, b in zip(loads[every], loads["1s"]))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), pieces=st.integers(1, 12), repeats=st.integers(0, 3), every=st.sampled_from(RATES))
def test_while_a_run_is_open_every_arrival_order_counts_the_same_samples(seed, pieces, repeats, every):
    rng = random.Random(seed)
    samples, _ = history(rng, every, [(600, 2, 3.1), (300, 5, 4.2)])
    now = samples[-1].ts + DAY_MS
    in_order, _ = deliver([samples], now)
    shuffled, _ = deliver(shuffled_batches(samples, rng, pieces, repeats), now)
    expected = [(r.samples, round(r.km, 9), r.cadence_spm) for r in in_order.runs(PARAMS)]
    assert [(r.samples, round(r.km, 9), r.cadence_spm) for r in shuffled.runs(PARAMS)] == expected


def test_a_year_of_five_second_runs_keeps_one_segment_per_run():
    rng = random.Random(1)
    state = RunnerState(runner="alice")
    now = T0 + 400 * DAY_MS
    for day in range(365):
        samples = run(T0 + day * DAY_MS, 1200, "5s", rng=rng)
        state, _ = deliver([samples[:100], samples[100:]], now + day * 60_000, state=state)
        state = settle(state, now + day * 60_000 + 60_000).state
    assert segment_count(state) == 365 == len(state.runs(PARAMS))
