"""The same run from two sources counts once (RULES.md §7): the source covering more of it counts."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from footpod.load import DAY_MS
from streams.state import one_per_overlap
from streams.step import step
from tests.unit.streams.stream_histories import PARAMS, T0, ctx, deliver, run, settle, shuffled_batches

NOW = T0 + DAY_MS


def live_and_fit():
    """The gateway's live stream (pod, 1 Hz) lost the first 2 minutes; the watch's FIT file
    (smart recording, 1-10 s) has the whole run, a little faster by the watch's GPS."""
    live = run(T0 + 120_000, 1680, "1s", device="C4:7A:0B:11:22:33", mps=3.0)
    fit = run(T0, 1800, "1-10s", device="3341889012", mps=3.1, rng=random.Random(3), run_id="fit:3341889012:1")
    return live, fit


def test_the_live_stream_and_the_fit_file_of_one_run_count_once_as_the_fit_file():
    live, fit = live_and_fit()
    state, _ = deliver([live, fit], NOW)
    (counted,) = state.runs(PARAMS)
    assert counted.device_id == "3341889012" and round(counted.km, 6) == round(3.1 * 1.8, 6)
    assert len(state.all_runs(PARAMS).every) == 2  # both kept: a re-sync of either is recognised


def test_the_source_that_loses_adds_nothing_to_its_shoe():
    live, fit = live_and_fit()
    state, results = deliver([live, fit], NOW)
    latest = results[-1].update.latest
    assert latest.run.device_id == "3341889012" and round(latest.device_km, 6) == round(3.1 * 1.8, 6)
    newer = step(state, run(T0 + 2 * DAY_MS, 600, device="C4:7A:0B:11:22:33"), ctx(NOW + 2 * DAY_MS))
    assert round(newer.update.latest.device_km, 6) == 1.8  # the pod's own run only


def test_the_run_resaved_under_another_device_a_second_later_counts_once():
    original = run(T0, 1800, device="watch-a")
    resaved = [s.model_copy(update={"device_id": "strava-export", "ts": s.ts + 1000}) for s in original]
    state, results = deliver([original, resaved], NOW)
    assert len(state.runs(PARAMS)) == 1
    assert round(results[-1].update.latest.load.week_km, 6) == 5.4


def test_the_losing_source_is_stored_with_no_distance():
    live, fit = live_and_fit()
    _, results = deliver([live, fit], NOW)
    runs = [line for line in results[-1].lines if line.startswith("run,")]
    duplicate = [line for line in runs if "C4:7A" in line.split(" ")[0]]
    assert duplicate and all(" km=0" in line or ",km=0" in line for line in duplicate)
    assert all('duplicate_of="fit:3341889012:1"' in line for line in duplicate)


def test_runs_that_do_not_overlap_both_count():
    state, _ = deliver([run(T0, 600, device="a"), run(T0 + 601_000 + PARAMS.run_gap_ms, 600, device="b")], NOW)
    assert len(state.runs(PARAMS)) == 2


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), pieces=st.integers(1, 8), repeats=st.integers(0, 2))
def test_any_arrival_order_of_two_sources_counts_the_same_one_run(seed, pieces, repeats):
    live, fit = live_and_fit()
    rng = random.Random(seed)
    state, _ = deliver(shuffled_batches(live + fit, rng, pieces, repeats), NOW)
    state = settle(state, NOW + pieces * 1000 + PARAMS.settle_ms).state
    (counted,) = state.runs(PARAMS)
    assert counted.device_id == "3341889012" and abs(counted.km - 3.1 * 1.8) < 1e-6


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(1, 20), st.sampled_from("abc")), max_size=8), st.randoms())
def test_counted_runs_never_overlap_and_do_not_depend_on_order(spans, rnd):
    from footpod.records import RunSummary

    runs = [
        RunSummary(
            run_id=f"{d}{s}", device_id=d, start_ms=s * 1000, end_ms=(s + n) * 1000, km=n, samples=n, cadence_spm=None
        )
        for s, n, d in {(s, n, d) for s, n, d in spans}
    ]
    winners = one_per_overlap(runs)
    shuffled = list(runs)
    rnd.shuffle(shuffled)
    assert one_per_overlap(shuffled) == winners
    counted = sorted({(w.start_ms, w.end_ms) for w in winners.values()})
    assert all(a[1] < b[0] for a, b in zip(counted, counted[1:]))
