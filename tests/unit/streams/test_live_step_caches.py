"""What a step keeps for the next one (the history, the runs it summarised) changes nothing it
answers: random live sequences (several devices, gaps that cut runs, late and repeated samples,
runs judged whole, runners at rest) give, step by step, the lines, update and state of the same
step on the same segments with nothing kept (a state that has summarised nothing yet)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from footpod.contract import CountedSample
from footpod.load import DAY_MS
from footpod.records import RunnerUpdate
from streams.points import superseded_run_point
from streams.segments import Segment
from streams.state import RunnerState, device_km, evaluate
from streams.step import StepResult, conclude, has_open_runs, may_be_whole, step
from tests.unit.streams.stream_histories import PARAMS, T0, ctx

DEVICES = ("pod", "watch", "band")
GAP_MS = PARAMS.run_gap_ms


def without_memory(state: RunnerState) -> RunnerState:
    """The same segments in a state that has summarised nothing yet."""
    return RunnerState(runner=state.runner, first_seen_ms=state.first_seen_ms, devices=dict(state.devices))


def sharing_memory(state: RunnerState) -> RunnerState:
    """The same segments with the same history and summaries (what a later step of it would find)."""
    twin = RunnerState.model_construct(runner=state.runner, first_seen_ms=state.first_seen_ms, devices=state.devices)
    twin._history, twin._summaries = state._history, state._summaries
    return twin


def runs_of(state: RunnerState) -> tuple:
    runs = state.all_runs(PARAMS)
    return (
        [run.model_dump_json() for run in runs.every],
        [run.model_dump_json() for run in runs.counted],
        sorted(runs.open_keys),
        sorted((key, run.run_id) for key, run in runs.winner_of.items()),
    )


def assert_same(result: StepResult, reference: StepResult, now_ms: int) -> None:
    """Byte for byte: the lines, the update as sent (JSON: 0 and 0.0 differ there), the state as
    stored, and the state's runs as the next step will find them; and each run evaluated as
    `evaluate` evaluates it over all the runs that count."""
    assert result.lines == reference.lines
    assert (result.update and result.update.model_dump_json()) == (
        reference.update and reference.update.model_dump_json()
    )
    assert result.state.model_dump_json() == reference.state.model_dump_json()
    assert runs_of(sharing_memory(result.state)) == runs_of(without_memory(reference.state))
    if result.update is not None:
        # built without validation: validating it again changes nothing (no int where a float goes)
        values = result.update.model_dump()
        assert repr(RunnerUpdate.model_validate(values).model_dump()) == repr(values)
        counted = without_memory(result.state).runs(PARAMS)
        for evaluated in (*result.update.touched, result.update.latest):
            run = evaluated.run
            expected = evaluate(
                run,
                counted,
                result.state.first_seen_ms or run.start_ms,
                now_ms,
                PARAMS,
                None,
                device_km(counted, run.device_id, run.end_ms),
                final=evaluated.final,
            )
            assert evaluated.model_dump_json() == expected.model_dump_json()


def superseded(lines: list[str]) -> list[str]:
    return sorted(line for line in lines if ",superseded_by=" in line)


def superseded_from_scratch(old: RunnerState, new: RunnerState) -> list[str]:
    """The point of every run of `old` whose start no longer starts a run but lies within one
    (late samples came before it), as superseded by that run (issue 9)."""
    old_runs, new_runs = without_memory(old).all_runs(PARAMS).every, without_memory(new).all_runs(PARAMS).every
    starts = {(run.device_id, run.start_ms) for run in new_runs}
    lines = []
    for run in old_runs:
        if (run.device_id, run.start_ms) in starts:
            continue
        into = [
            other
            for other in new_runs
            if other.device_id == run.device_id and other.start_ms < run.start_ms <= other.end_ms
        ]
        lines += [superseded_run_point(old.runner, "harriers", run, other.run_id) for other in into]
    return sorted(lines)


action = st.one_of(
    st.tuples(st.just("next"), st.integers(0, 2), st.sampled_from([1000, 1000, 1000, 2000, 5000])),
    st.tuples(st.just("gap"), st.integers(0, 2), st.integers(GAP_MS + 1000, GAP_MS + DAY_MS)),
    st.tuples(st.just("late"), st.integers(0, 2), st.integers(1, 40)),
    st.tuples(st.just("again"), st.integers(0, 2), st.integers(0, 1000)),
    st.tuples(st.just("conclude"), st.just(0), st.sampled_from([0, PARAMS.settle_ms, GAP_MS + PARAMS.settle_ms])),
)


@settings(max_examples=80)
@given(
    season=st.lists(
        st.tuples(st.integers(0, 49), st.integers(0, 2), st.integers(30, 600), st.integers(0, 300)), max_size=12
    ),
    actions=st.lists(st.lists(action, min_size=1, max_size=3), min_size=1, max_size=80),
    run_ids=st.booleans(),
)
def test_live_steps_answer_as_the_same_steps_with_nothing_kept(season, actions, run_ids):
    """The season's runs end at the time of day the live runs go through, some a few minutes
    later: a live run's end passes their ends' time of day, where its load sums move a day."""
    state = RunnerState(runner="alice")
    live_start = T0 + 50 * DAY_MS
    now = live_start - DAY_MS

    def apply(result: StepResult, reference: StepResult) -> RunnerState:
        assert_same(result, reference, now)
        assert superseded(result.lines) == superseded_from_scratch(state, result.state)
        every_segment = [segment for segments in result.state.devices.values() for segment in segments]
        assert has_open_runs(result.state) == any(segment.open for segment in every_segment)
        for later in (0, PARAMS.settle_ms, GAP_MS + PARAMS.settle_ms):  # `may_be_whole` as over every segment
            at = now + later
            assert may_be_whole(result.state, at, PARAMS) == any(
                segment.open and at - segment.arrived_ms >= PARAMS.settle_ms and at - segment.end_ms >= GAP_MS
                for segment in every_segment
            )
        if not has_open_runs(result.state):
            result.state.forget_history()  # as the stream worker does for a runner at rest
        return result.state

    def sample(device: int, ts: int, run: int) -> CountedSample:
        return CountedSample(
            ts=ts,
            device_id=DEVICES[device],
            cadence_spm=(120.0, 165.0, 171.0, 182.0)[ts // 1000 % 4],
            distance_m=2.9 * (ts - T0) / 1000 + device,
            speed_mps=None if ts // 1000 % 3 == 0 else 3.0,
            run_id=f"{DEVICES[device]}-{run}" if run_ids and device == 1 else None,
        )

    for day, device, seconds, end_s in season:  # runs synced, then judged whole
        end = T0 + day * DAY_MS + end_s * 1000
        batch = [sample(device, end - i * 1000, day) for i in range(seconds, -1, -3)]
        now += 60_000
        state = apply(step(state, batch, ctx(now)), step(without_memory(state), batch, ctx(now)))
        now += GAP_MS + PARAMS.settle_ms
        state = apply(conclude(state, ctx(now)), conclude(without_memory(state), ctx(now)))

    cursor = [live_start + 1000 * device for device in range(len(DEVICES))]
    run_of = [100] * len(DEVICES)
    sent: list[CountedSample] = []
    for batch_actions in actions:
        batch = []
        for kind, device, amount in batch_actions:
            if kind == "conclude":
                now += amount
                state = apply(conclude(state, ctx(now)), conclude(without_memory(state), ctx(now)))
                continue
            if kind == "next":
                cursor[device] += amount
            elif kind == "gap":
                cursor[device] += amount
                run_of[device] += 1
            if kind == "again" and sent:
                batch.append(sent[amount % len(sent)])
            elif kind == "late":
                batch.append(sample(device, cursor[device] - amount * 1000, run_of[device]))
            else:
                batch.append(sample(device, cursor[device], run_of[device]))
        if batch:
            sent.extend(batch)
            now = max(now + 1000, max(s.ts for s in batch) + 200)
            state = apply(step(state, batch, ctx(now)), step(without_memory(state), batch, ctx(now)))


def test_a_state_made_directly_is_the_one_pydantic_constructs():
    from streams.state import _kept, _state

    devices = {"pod": (Segment.of(1, 2, 0.0, 3.0, 3.0, 2, 2, 340.0),)}
    made = _state("alice", 1, devices, None, None, None)
    constructed = RunnerState.model_construct(runner="alice", first_seen_ms=1, devices=devices)
    assert made == constructed and made.model_dump_json() == constructed.model_dump_json()
    assert made.model_fields_set == constructed.model_fields_set
    assert made.__pydantic_extra__ == constructed.__pydantic_extra__
    assert _kept(made).keys() == _kept(constructed).keys() == RunnerState.__private_attributes__.keys()
    made.forget_history()  # its private attributes are set as pydantic sets them
    assert made._history is None and made._summaries is None and made._before is None


def test_one_run_alone_is_counted_as_choosing_among_runs_counts_it():
    from footpod.records import RunSummary
    from streams.state import Runs, key_of, one_per_overlap

    run = RunSummary(run_id="r", device_id="pod", start_ms=1, end_ms=9, km=0.5, samples=3, cadence_spm=None)
    runs = Runs.of([run], [key_of(run)])
    assert runs.winner_of == one_per_overlap([run]) and runs.counted == (run,) and runs.every == (run,)
    assert runs.groups == {key_of(run): [run]} and runs.open_keys == {key_of(run)}
    assert runs.counted_ends == [9] and runs.device_kms == {"pod": ([9], [0.5])}
    assert runs.members(run) == [run] and runs.is_open(run) and runs.device_km("pod", 9) == 0.5
