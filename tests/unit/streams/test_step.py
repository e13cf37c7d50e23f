"""One stream step: points and the alert worker's update from a batch of samples."""

from footpod.contract import Sample
from footpod.load import DAY_MS
from footpod.settings import Settings
from streams.segments import load_params
from streams.state import RunnerState
from streams.step import Context, step

T0 = 1_763_000_000_000


def samples(start_ms, count, device="pod"):
    return [Sample(ts=start_ms + i * 1000, device_id=device, cadence_spm=172, distance_m=i * 3.0) for i in range(count)]


def ctx(now_ms):
    return Context(now_ms=now_ms, params=load_params(Settings()), team="harriers")


def test_a_step_writes_cadence_and_run_points_and_describes_the_run():
    result = step(RunnerState(runner="alice"), samples(T0, 601), ctx(T0 + DAY_MS))
    assert any(line.startswith("run,") for line in result.lines)
    assert sum(line.startswith("cadence,") for line in result.lines) == 61  # one per 10 s
    assert result.update.latest.run.km == 1.8 and not result.update.latest.live


def test_a_run_within_the_run_gap_of_now_is_live():
    result = step(RunnerState(runner="alice"), samples(T0, 100), ctx(T0 + 100_000))
    assert result.update.latest.live


def test_a_run_synced_400_days_late_is_stored_and_counted_for_the_shoe():
    result = step(RunnerState(runner="alice"), samples(T0, 601), ctx(T0 + 400 * DAY_MS))
    assert result.update.touched[0].run.km == 1.8
    assert result.update.touched[0].device_km == 1.8
    assert result.state.runs(load_params(Settings()))[0].km == 1.8  # history of any age is kept (RULES.md §7)


def test_samples_already_counted_give_no_update():
    first = step(RunnerState(runner="alice"), samples(T0, 100), ctx(T0 + DAY_MS))
    again = step(first.state, samples(T0, 100), ctx(T0 + DAY_MS))
    assert again.update is None and again.lines == []


def test_samples_as_decoded_from_kafka_records_go_through_a_step():
    from footpod.contract import SampleBatch

    record = SampleBatch(runner="alice", received_ms=T0, samples=tuple(samples(T0, 601))).model_dump_json()
    decoded = SampleBatch.model_validate_json(record).samples
    assert step(RunnerState(runner="alice"), decoded, ctx(T0 + DAY_MS)).update.latest.run.km == 1.8
