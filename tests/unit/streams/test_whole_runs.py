"""A run is judged whole (RULES.md §1 "a whole run"): one verdict, once nothing of it is still coming."""

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.decide import alerts_for
from footpod.load import DAY_MS
from streams.state import RunnerState, seal
from streams.step import conclude, has_open_runs, may_be_whole, step
from tests.unit.streams.stream_histories import PARAMS, T0, ctx, run, settle

LATE = T0 + 2 * DAY_MS  # the run reaches the stream two days after it was run


def warm_up_then_run():
    warm_up = run(T0, 180, spm=150.0)  # 3 minutes at 150 spm
    main = run(T0 + 181_000, 3420, spm=172.0, start_m=warm_up[-1].distance_m + 3)
    return warm_up, main


def test_a_backlog_in_two_pieces_gets_one_verdict_on_the_whole_run():
    warm_up, main = warm_up_then_run()
    first = step(RunnerState(runner="alice"), warm_up, ctx(LATE))
    assert [e.final for e in first.update.touched] == [False]
    assert settle(first.state, LATE + 20_000).update is None  # the next piece may still come
    second = step(first.state, main, ctx(LATE + 25_000))
    assert settle(second.state, LATE + 50_000).update is None  # 25 s after the second piece: still settling
    verdict = settle(second.state, LATE + 25_000 + PARAMS.settle_ms).update
    (whole,) = verdict.touched
    assert whole.final and whole.run.samples == len(warm_up) + len(main)
    assert abs(whole.run.cadence_spm - (181 * 150 + 3421 * 172) / 3602) < 1e-9


def test_the_first_piece_of_a_backlog_raises_no_cadence_alert_and_the_whole_run_none_either():
    warm_up, main = warm_up_then_run()
    first = step(RunnerState(runner="alice"), warm_up, ctx(LATE))
    assert not [a for a in alerts_for(first.update) if a.rule == "cadence_low"]
    second = step(first.state, main, ctx(LATE + 5_000))
    verdict = settle(second.state, LATE + 5_000 + PARAMS.settle_ms).update
    assert verdict.touched[0].run.cadence_spm >= 170
    assert not [a for a in alerts_for(verdict) if a.rule == "cadence_low"]


def test_a_slow_whole_run_does_raise_cadence_low_once_judged():
    samples = run(T0, 1800, spm=150.0)
    state = step(RunnerState(runner="alice"), samples, ctx(LATE)).state
    verdict = settle(state, LATE + PARAMS.settle_ms).update
    assert [a.rule for a in alerts_for(verdict) if a.rule == "cadence_low"] == ["cadence_low"]


def test_a_live_run_stays_open_until_the_run_gap_has_passed_in_event_time():
    samples = run(T0, 600)
    end = samples[-1].ts
    result = step(RunnerState(runner="alice"), samples, ctx(end + 1000))
    assert result.update.latest.live and not result.update.latest.final
    assert conclude(result.state, ctx(end + PARAMS.run_gap_ms - 1)).update is None
    verdict = conclude(result.state, ctx(end + PARAMS.run_gap_ms)).update
    assert (
        verdict.latest.final
        and not verdict.latest.live
        and not has_open_runs(conclude(result.state, ctx(end + PARAMS.run_gap_ms)).state)
    )


def test_a_judged_run_is_judged_once():
    state = step(RunnerState(runner="alice"), run(T0, 600), ctx(LATE)).state
    judged = settle(state, LATE + PARAMS.settle_ms)
    assert judged.update is not None
    assert settle(judged.state, LATE + 2 * PARAMS.settle_ms).update is None


def test_samples_that_extend_a_judged_run_reopen_it_and_it_is_judged_again_whole():
    samples = run(T0, 1200)
    state = settle(step(RunnerState(runner="alice"), samples[:600], ctx(LATE)).state, LATE + PARAMS.settle_ms).state
    reopened = step(state, samples[600:], ctx(LATE + DAY_MS))
    assert not reopened.update.touched[0].final
    verdict = settle(reopened.state, LATE + DAY_MS + PARAMS.settle_ms).update
    assert verdict.touched[0].run.km == 3.6 and verdict.touched[0].run.start_ms == T0


def test_the_run_point_says_whether_the_run_is_final():
    result = step(RunnerState(runner="alice"), run(T0, 600), ctx(LATE))
    assert any(line.startswith("run,") and "final=false" in line for line in result.lines)
    judged = settle(result.state, LATE + PARAMS.settle_ms)
    assert any(line.startswith("run,") and "final=true" in line for line in judged.lines)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3 * 3600), st.integers(1, 400), st.integers(0, 120_000)), min_size=1, max_size=4),
    st.integers(0, 20 * 60_000),
)
def test_the_shortcut_never_skips_a_run_that_is_whole(pieces, later_ms):
    """`may_be_whole` says no only when sealing would judge nothing whole."""
    state = RunnerState(runner="alice")
    arrival = LATE
    for offset_s, seconds, delay_ms in pieces:
        arrival += delay_ms
        state = step(state, run(T0 + offset_s * 1000, seconds), ctx(arrival)).state
    now = arrival + later_ms
    if not may_be_whole(state, now, PARAMS):
        assert seal(state, now, PARAMS)[1] == []
