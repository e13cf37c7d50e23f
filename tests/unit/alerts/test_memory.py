"""The alert worker keeps a runner's runs compact between events and gives the rules back the same runs."""

from hypothesis import given
from hypothesis import strategies as st

from alerts.worker import Memory, _merge_runs, compact, expand
from footpod.records import RunSummary

_runs = st.builds(
    RunSummary,
    run_id=st.text(min_size=1, max_size=12),
    device_id=st.sampled_from(["pod-1", "pod-2", "watch"]),
    start_ms=st.integers(0, 2**42),
    end_ms=st.integers(0, 2**42),
    km=st.floats(0, 100),
    samples=st.integers(0, 20_000),
    cadence_spm=st.none() | st.floats(100, 220),
)


@given(st.lists(_runs, max_size=8))
def test_compact_runs_expand_to_the_runs_kept(runs):
    assert expand(compact(runs)) == tuple(runs)
    assert Memory(tuple(runs), [], set()).compact_runs == compact(runs)


@given(st.lists(_runs, max_size=8), st.lists(_runs, max_size=8))
def test_merging_into_compact_runs_is_merging_the_runs(known, recent):
    known = sorted(known, key=lambda run: run.end_ms)
    floor = min((run.end_ms for run in recent), default=None)
    expected = (
        tuple(known)
        if floor is None
        else tuple(sorted([*(r for r in known if r.end_ms < floor), *recent], key=lambda run: run.end_ms))
    )
    assert _merge_runs(compact(known), tuple(recent)) == expected
