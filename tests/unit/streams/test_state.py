"""Counting samples once, cutting runs, and order independence (RULES.md §1, §7)."""

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from footpod.contract import Sample
from footpod.settings import Settings
from streams.segments import load_params
from streams.state import RunnerState, count_samples

PARAMS = load_params(Settings())
T0 = 1_763_000_000_000


def run_samples(start_ms, seconds, device="pod-1", start_m=0.0, mps=3.0, spm=170.0, run_id=None):
    return [
        Sample(ts=start_ms + i * 1000, device_id=device, cadence_spm=spm, distance_m=start_m + i * mps, run_id=run_id)
        for i in range(seconds)
    ]


def feed(*batches):
    state = RunnerState(runner="alice")
    for batch in batches:
        state = count_samples(state, batch, PARAMS).state
    return state


def km_of(state):
    return [round(run.km, 6) for run in state.runs(PARAMS)]


def test_a_continuous_run_counts_the_distance_it_covers():
    state = feed(run_samples(T0, 601))  # 600 steps of 3 m
    assert km_of(state) == [1.8]


def test_a_run_synced_twice_counts_once():
    samples = run_samples(T0, 601)
    assert km_of(feed(samples, samples)) == km_of(feed(samples))


def test_a_resync_fills_a_hole_without_double_counting():
    samples = run_samples(T0, 601)
    with_hole = samples[:200] + samples[260:]
    state = feed(with_hole, samples)
    assert km_of(state) == [1.8]
    assert state.runs(PARAMS)[0].samples == 601


def test_a_gap_over_five_minutes_cuts_two_runs():
    first = run_samples(T0, 100)
    second = run_samples(T0 + 100_000 + 301_000, 100, start_m=0.0)
    assert len(feed(first + second).runs(PARAMS)) == 2


def test_a_gap_of_exactly_five_minutes_stays_one_run():
    first = run_samples(T0, 100)
    second = run_samples(first[-1].ts + 300_000, 100, start_m=first[-1].distance_m)
    assert len(feed(first + second).runs(PARAMS)) == 1


def test_a_shared_run_id_joins_samples_across_a_long_pause():
    first = run_samples(T0, 100, run_id="r1")
    second = run_samples(T0 + 3_600_000, 100, start_m=first[-1].distance_m + 5, run_id="r1")
    runs = feed(first + second).runs(PARAMS)
    assert [run.run_id for run in runs] == ["r1"]


def test_a_device_reset_adds_nothing_for_the_step_down():
    before = run_samples(T0, 101)  # 300 m
    after = run_samples(T0 + 101_000, 101, start_m=0.0)  # reset to 0, 300 m more
    assert km_of(feed(before + after)) == [0.6]


def test_a_glitch_faster_than_12_mps_adds_nothing():
    samples = run_samples(T0, 11)
    spiked = samples[:5] + [samples[5].model_copy(update={"distance_m": 5_000.0})] + samples[6:]
    # 4 steps before the spike; the spike up is a glitch and the drop back is a reset; 4 steps after
    assert km_of(feed(spiked)) == [0.024]


def test_a_step_of_exactly_12_mps_counts():
    samples = [
        Sample(ts=T0, device_id="p", cadence_spm=170, distance_m=0),
        Sample(ts=T0 + 1000, device_id="p", cadence_spm=170, distance_m=12),
    ]
    assert km_of(feed(samples)) == [0.012]


def test_run_cadence_averages_running_samples_only():
    running = run_samples(T0, 60, spm=180.0)
    walking = run_samples(T0 + 60_000, 60, start_m=running[-1].distance_m, spm=100.0)
    (run,) = feed(running + walking).runs(PARAMS)
    assert run.cadence_spm == 180.0


def test_a_run_of_walking_only_has_no_cadence():
    (run,) = feed(run_samples(T0, 30, spm=90.0)).runs(PARAMS)
    assert run.cadence_spm is None


def test_two_devices_make_separate_runs():
    state = feed(run_samples(T0, 100, device="left") + run_samples(T0, 100, device="right"))
    # each device keeps its own run; which of them counts is RULES.md §7's choice (test_sources.py)
    assert sorted(run.device_id for run in state.all_runs(PARAMS).every) == ["left", "right"]


def test_absorb_reports_fresh_samples_and_touched_runs():
    state = feed(run_samples(T0, 100))
    step = count_samples(state, run_samples(T0, 150), PARAMS)
    assert len(step.fresh) == 50
    assert [run.samples for run in step.touched] == [150]


def test_nothing_new_touches_nothing():
    samples = run_samples(T0, 100)
    step = count_samples(feed(samples), samples, PARAMS)
    assert step.fresh == () and step.touched == ()


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    pieces=st.integers(1, 8),
    repeats=st.integers(0, 3),
)
def test_any_arrival_order_with_repeats_gives_the_same_runs(seed, pieces, repeats):
    rng = random.Random(seed)
    samples = run_samples(T0, 300, mps=rng.uniform(2, 5)) + run_samples(
        T0 + 900_000, 200, start_m=rng.uniform(0, 50), spm=rng.uniform(120, 190)
    )
    expected = feed(samples)
    shuffled = samples + rng.sample(samples, k=min(len(samples), repeats * 40))
    rng.shuffle(shuffled)
    cuts = sorted(rng.sample(range(1, len(shuffled)), k=min(pieces, len(shuffled) - 1)))
    batches = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)])]
    got = feed(*batches)
    assert [(r.run_id, r.samples) for r in got.runs(PARAMS)] == [(r.run_id, r.samples) for r in expected.runs(PARAMS)]
    for run, want in zip(got.runs(PARAMS), expected.runs(PARAMS)):  # sums in another order: the last bits may differ
        assert math.isclose(run.km, want.km, rel_tol=1e-12)
        assert (run.cadence_spm is None) == (want.cadence_spm is None)
        assert run.cadence_spm is None or math.isclose(run.cadence_spm, want.cadence_spm, rel_tol=1e-12)


def test_a_sync_of_many_runs_at_once_touches_every_run():
    first = run_samples(T0, 100)
    second = run_samples(T0 + 3_600_000, 100)
    third = run_samples(T0 + 7_200_000, 100)
    step = count_samples(RunnerState(runner="alice"), first + second + third, PARAMS)
    assert [run.start_ms for run in step.touched] == [T0, T0 + 3_600_000, T0 + 7_200_000]
