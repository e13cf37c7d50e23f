"""What the stream tells the alert worker, as the worker keeps it: after every live step the worker
knows exactly the runs the stream counted, each once, however a run grows and whatever came before."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.worker import Memory, expand
from footpod.contract import CountedSample
from footpod.records import RunSummary
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
        assert memory.runs() == expand(memory.compact_runs)  # the runs kept between updates, as made afresh
        assert [(r.device_id, r.start_ms, r.end_ms, r.samples) for r in expand(memory.compact_runs)] == [
            (r.device_id, r.start_ms, r.end_ms, r.samples) for r in counted
        ]


DEVICES = ("pod", "watch")
SECOND_MS = 1000


def _sample(ts: int, device: str) -> CountedSample:
    # a device's distance grows with event time, whatever order its samples come in
    cadence = 170.0 + ts // SECOND_MS % 7
    return CountedSample(ts=ts, device_id=device, cadence_spm=cadence, distance_m=3.0 * (ts - T0) / 1000)


# a runner's past: runs of either device, days back, judged whole (an overlap of the two devices included)
_history = st.lists(
    st.tuples(st.integers(1, 75), st.integers(0, 3), st.sampled_from(DEVICES), st.integers(2, 40)),
    max_size=8,
)
# what comes after, in arrival order: samples of a device after all it sent (live: 1 Hz as a rule, a
# pause, a gap that ends the run), a backlog of a device at an earlier instant (into a run, just before
# one, or days back), or the stream's timer judging the whole runs
_live = st.tuples(
    st.just("live"),
    st.sampled_from(DEVICES),
    st.lists(st.sampled_from([1, 1, 1, 2, 5, 45, 600]), min_size=1, max_size=6),
)
_backlog = st.tuples(
    st.just("backlog"),
    st.sampled_from(DEVICES),
    st.sampled_from([3, 20, 40, 90, 700, 3_600, DAY_MS // 1000, 20 * DAY_MS // 1000, 65 * DAY_MS // 1000]),
    st.integers(1, 8),
)
_judge = st.tuples(st.just("judge"))
_events = st.lists(st.one_of(_live, _live, _backlog, _judge), min_size=1, max_size=14)


def _past(history) -> tuple[RunnerState, int]:
    """The runner's state after its past runs, each judged whole, and the instant after them."""
    state = RunnerState(runner="ana")
    now = T0 + 80 * DAY_MS
    for days_back, hour, device, samples in sorted(history, key=lambda run: (-run[0], run[1])):
        start = now - days_back * DAY_MS + hour * 3_600_000
        batch = [_sample(start + 5 * SECOND_MS * i, device) for i in range(samples)]
        state = step(state, batch, Context(now_ms=batch[-1].ts, params=PARAMS, team="red")).state
        judged_at = batch[-1].ts + PARAMS.run_gap_ms + PARAMS.settle_ms
        state = conclude(state, Context(now_ms=judged_at, params=PARAMS, team="red")).state
    return state, now + DAY_MS


def _known(memory: Memory) -> list[tuple]:
    assert memory.runs() == expand(memory.compact_runs)  # the runs kept between updates, as made afresh
    return [(r.device_id, r.start_ms, r.end_ms, r.samples, r.km) for r in expand(memory.compact_runs)]


def _counted(state: RunnerState) -> list[tuple]:
    return [(r.device_id, r.start_ms, r.end_ms, r.samples, r.km) for r in state.all_runs(PARAMS).counted]


def _feed(state: RunnerState, memory: Memory, events, clock: int, first_full_window: bool, kinds: list[str]):
    """Every event through the real `step` or `conclude`, each update into `memory`, as the stream's
    agent and the alert worker do; after every update taken, the worker knows the stream's counted runs."""
    last = {device: max((s.end_ms for s in state.devices.get(device, ())), default=clock) for device in DEVICES}
    full_window = first_full_window
    for event in events:
        if event[0] == "live":
            _, device, gaps = event
            batch = []
            for gap in gaps:
                last[device] = max(last[device], clock - 60 * SECOND_MS) + gap * SECOND_MS
                batch.append(_sample(last[device], device))
            clock = max(clock, last[device]) + 200
            result = step(state, batch, Context(now_ms=clock, params=PARAMS, team="red", full_window=full_window))
        elif event[0] == "backlog":
            _, device, back_s, samples = event
            first = clock - back_s * SECOND_MS
            batch = [_sample(first + SECOND_MS * i, device) for i in range(samples)]
            last[device] = max(last[device], batch[-1].ts)
            clock = max(clock, batch[-1].ts) + 200
            result = step(state, batch, Context(now_ms=clock, params=PARAMS, team="red", full_window=full_window))
        else:
            clock += PARAMS.run_gap_ms + PARAMS.settle_ms
            result = conclude(state, Context(now_ms=clock, params=PARAMS, team="red", full_window=full_window))
        state = result.state
        if result.update is not None:
            memory.take(result.update)
            kinds.append(result.update.recent_kind)
            full_window = False  # the agent asks for the window once, with the first update after a seed
        if kinds:
            assert _known(memory) == _counted(state)
    return state


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_history, _events)
def test_the_worker_knows_the_counted_runs_after_every_step_with_history_backlogs_and_two_devices(history, events):
    state, clock = _past(history)
    memory = Memory(state.all_runs(PARAMS).counted, [], set())  # read back from the store at its start
    kinds: list[str] = []
    _feed(state, memory, events, clock, first_full_window=False, kinds=kinds)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_history, _events, st.randoms(use_true_random=False))
def test_after_a_seed_the_first_update_gives_the_whole_window_to_a_worker_that_knew_another_view(history, events, rng):
    state, clock = _past([(min(days_back, 50), *rest) for days_back, *rest in history])  # all within the window
    counted = list(state.all_runs(PARAMS).counted)
    # the worker's view: some runs missing, a run the stream does not count (another view of the runner)
    view = [run for run in counted if rng.random() < 0.5]
    stray = dict(device_id="pod", start_ms=clock - 3 * DAY_MS, end_ms=clock - 3 * DAY_MS + 60_000, km=0.2)
    view.append(RunSummary(run_id=f"pod@{stray['start_ms']}", samples=12, cadence_spm=170.0, **stray))
    memory = Memory(sorted(view, key=lambda run: run.end_ms), [], set())
    kinds: list[str] = []
    _feed(state, memory, events, clock, first_full_window=True, kinds=kinds)
    assert kinds[:1] in ([], ["window"])
