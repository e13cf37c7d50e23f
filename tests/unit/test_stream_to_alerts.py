"""What the stream tells the alert worker, as the worker keeps it: after every live step the worker
knows exactly the runs the stream counted, each once, however a run grows and whatever came before."""

from hypothesis import given
from hypothesis import strategies as st

from alerts.worker import Memory, expand
from footpod.contract import CountedSample
from streams.state import RunnerState
from streams.step import Context, conclude, step
from tests.unit.streams.stream_histories import PARAMS, T0

DAY_MS = 86_400_000

# seconds between samples: mostly 1 Hz, sometimes a pause, sometimes a gap that ends the run
_gaps = st.lists(st.sampled_from([1, 1, 1, 1, 2, 5, 20, 45, 600, 3 * DAY_MS // 1000]), min_size=1, max_size=80)


@given(_gaps, st.booleans())
def test_the_worker_knows_each_counted_run_once_after_every_live_step(gaps, judged):
    state, memory = RunnerState(runner="ana"), Memory((), [], set())
    ts, meters = T0, 0.0
    for gap in gaps:
        ts += gap * 1000
        meters += 3.0 * min(gap, 5)
        sample = CountedSample(ts=ts, device_id="pod", cadence_spm=172.0, distance_m=meters)
        ctx = Context(now_ms=ts + 200, params=PARAMS, team="red")
        result = step(state, [sample], ctx)
        state = result.state
        if result.update is not None:
            memory.take(result.update)
        if judged:  # whole runs judged as time goes on, as the stream's timer does
            later = conclude(state, ctx.model_copy(update={"now_ms": ts + 200 + PARAMS.run_gap_ms + PARAMS.settle_ms}))
            state = later.state
            if later.update is not None:
                memory.take(later.update)
        counted = state.all_runs(PARAMS).counted
        assert [(r.device_id, r.start_ms, r.end_ms, r.samples) for r in expand(memory.compact_runs)] == [
            (r.device_id, r.start_ms, r.end_ms, r.samples) for r in counted
        ]
