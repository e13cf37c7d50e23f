"""When an update carries only the runs a step changed (`recent_kind` "delta") and when the whole
window of recent runs: a delta only where no other counted run changed."""

from footpod.contract import CountedSample
from footpod.load import DAY_MS
from streams.state import RunnerState
from streams.step import RECENT_DAYS, Context, conclude, step
from tests.unit.streams.stream_histories import PARAMS, T0

MINUTE_MS = 60_000


def samples(start_ms: int, seconds: int, device: str = "pod", every_s: int = 1) -> list[CountedSample]:
    return [
        CountedSample(ts=ts, device_id=device, cadence_spm=172.0, distance_m=3.0 * (ts - T0) / 1000)
        for ts in range(start_ms, start_ms + seconds * 1000 + 1, every_s * 1000)
    ]


def at(now_ms: int, full_window: bool = False) -> Context:
    return Context(now_ms=now_ms, params=PARAMS, team="red", full_window=full_window)


def feed(state: RunnerState, batch: list[CountedSample], full_window: bool = False):
    return step(state, batch, at(batch[-1].ts + 200, full_window))


def with_history(days: int = 20) -> RunnerState:
    """A runner with a 10-minute run every other day before T0, each judged whole."""
    state = RunnerState(runner="ana")
    for day in range(days, 0, -2):
        batch = samples(T0 - day * DAY_MS, 600, every_s=5)
        state = feed(state, batch).state
        state = conclude(state, at(batch[-1].ts + PARAMS.run_gap_ms + PARAMS.settle_ms)).state
    return state


def counted(state: RunnerState):
    return state.all_runs(PARAMS).counted


def test_a_live_sample_that_extends_the_latest_run_sends_that_run_alone():
    state = feed(with_history(), samples(T0, 60)).state
    result = feed(state, samples(T0 + 61_000, 0))
    update = result.update
    assert update.recent_kind == "delta" and update.recent_after_ms is None
    assert update.recent == (counted(result.state)[-1],)
    assert update.recent[0].start_ms == T0 and update.recent[0].end_ms == T0 + 61_000


def test_a_sample_that_starts_a_new_run_sends_the_new_run_alone():
    state = feed(with_history(), samples(T0, 60)).state
    later = T0 + 60_000 + PARAMS.run_gap_ms + MINUTE_MS
    result = feed(state, samples(later, 0))
    assert result.update.recent_kind == "delta"
    assert [run.start_ms for run in result.update.recent] == [later]
    assert [run.start_ms for run in counted(result.state)[-2:]] == [T0, later]


def test_the_first_update_after_a_seed_sends_the_whole_window_whatever_changed():
    state = feed(with_history(), samples(T0, 60)).state
    result = feed(state, samples(T0 + 61_000, 0), full_window=True)
    update = result.update
    runs = counted(result.state)
    assert update.recent_kind == "window"
    assert update.recent_after_ms == runs[-1].end_ms - RECENT_DAYS * DAY_MS
    assert update.recent == tuple(run for run in runs if run.end_ms > update.recent_after_ms)
    assert len(update.recent) == len(runs) > 1


def test_a_late_sample_that_moves_a_runs_start_sends_the_window():
    state = feed(with_history(), samples(T0, 60)).state
    result = feed(state, samples(T0 - 10_000, 0))  # within the run gap, before the run: it starts earlier now
    assert counted(result.state)[-1].start_ms == T0 - 10_000
    assert result.update.recent_kind == "window"  # the run known by its old start is gone


def test_a_backlog_into_the_history_sends_the_window():
    state = feed(with_history(), samples(T0, 60)).state
    result = feed(state, samples(T0 - 7 * DAY_MS, 300))  # a run re-synced from a week ago
    assert result.update.recent_kind == "window"
    assert any(run.start_ms == T0 - 7 * DAY_MS for run in result.update.recent)


def test_a_second_source_that_does_not_win_its_overlap_sends_the_run_counted_as_a_delta():
    state = feed(with_history(), samples(T0, 600)).state  # the pod's 10 minutes
    result = feed(state, samples(T0 + 100_000, 30, device="watch"))  # the watch's 30 s within them
    runs = counted(result.state)
    assert runs[-1].device_id == "pod"
    assert result.update.recent_kind == "delta" and result.update.recent == (runs[-1],)


def test_a_second_source_that_takes_over_its_overlap_sends_the_window():
    state = feed(with_history(), samples(T0, 60)).state  # the pod's minute
    state = feed(state, samples(T0 + 30_000, 30, device="watch")).state  # the watch, shorter: the pod counts
    assert counted(state)[-1].device_id == "pod"
    result = feed(state, samples(T0 + 61_000, 60, device="watch"))  # now the watch's run is the longer
    assert counted(result.state)[-1].device_id == "watch"
    assert result.update.recent_kind == "window"  # the pod's run no longer counts


def test_a_run_judged_whole_alone_is_sent_as_a_delta_and_within_an_overlap_as_the_window():
    state = feed(with_history(), samples(T0, 60)).state
    judged = conclude(state, at(T0 + 60_000 + PARAMS.run_gap_ms + PARAMS.settle_ms))
    assert judged.update.recent_kind == "delta"
    assert judged.update.recent == (counted(judged.state)[-1],) and judged.update.touched[0].final

    both = feed(state, samples(T0 + 30_000, 20, device="watch")).state
    judged = conclude(both, at(T0 + 60_000 + PARAMS.run_gap_ms + PARAMS.settle_ms))
    assert judged.update.recent_kind == "window"
    after_seed = conclude(state, at(T0 + 60_000 + PARAMS.run_gap_ms + PARAMS.settle_ms, full_window=True))
    assert after_seed.update.recent_kind == "window"
