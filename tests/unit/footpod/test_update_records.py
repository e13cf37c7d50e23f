"""The stream's updates packed into Kafka records, per partition and bounded in bytes, and read back."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter

from footpod.records import LoadSnapshot, RunEvaluation, RunnerUpdate, RunSummary, pack_updates, unpack_updates
from tests.unit.builders import a_load, a_run, an_evaluation

T0 = 1_700_000_000_000


def an_update(runner: str, index: int, runs: int = 1) -> RunnerUpdate:
    recent = tuple(a_run(T0 + (index + r) * 3_600_000, run_id=f"{runner}-{index}-{r}") for r in range(runs))
    latest = an_evaluation(recent[-1], a_load(recent[-1].end_ms, 10.0, 8.0), live=True)
    return RunnerUpdate(runner=runner, team="red", touched=(latest,), latest=latest, recent=recent)


def partition_of(runner: str) -> int:
    return sum(map(ord, runner)) % 3


updates_strategy = st.lists(
    st.tuples(st.sampled_from(["ana", "ben", "cai", "dora", "eli"]), st.integers(1, 5)), min_size=0, max_size=30
)


@settings(max_examples=60, deadline=None)
@given(updates_strategy, st.sampled_from([600, 2_000, 256 * 1024]))
def test_every_update_is_packed_once_on_its_runners_partition_within_the_byte_bound(picks, max_bytes):
    updates = [an_update(runner, i, runs) for i, (runner, runs) in enumerate(picks)]
    records = pack_updates(updates, partition_of, max_bytes)
    unpacked = [(partition, unpack_updates(value)) for partition, value in records]
    assert sorted(u.model_dump_json() for _, part in unpacked for u in part) == sorted(
        u.model_dump_json() for u in updates
    )
    for (partition, part), (_, value) in zip(unpacked, records, strict=True):
        assert part and all(partition_of(u.runner) == partition for u in part)
        assert len(value) <= max_bytes or len(part) == 1  # an update bigger than the bound goes alone
    for runner in {u.runner for u in updates}:  # each runner's updates keep their order
        assert [u for _, part in unpacked for u in part if u.runner == runner] == [
            u for u in updates if u.runner == runner
        ]


def test_one_step_of_many_runners_is_one_record_per_partition():
    updates = [an_update(f"runner{i}", i) for i in range(200)]
    records = pack_updates(updates, partition_of)
    assert sorted(partition for partition, _ in records) == [0, 1, 2]


def test_a_record_of_one_update_as_an_object_is_read_too():
    update = an_update("ana", 0)
    assert unpack_updates(update.model_dump_json().encode()) == [update]


# --- read back without validation: exactly what validation makes of the same JSON

ms = st.integers(0, 2_000_000_000_000)
real = st.floats(-1e6, 1e6, allow_nan=False) | st.integers(-1000, 1000)  # a whole number too, as validation takes it
maybe_real = st.none() | real
name = st.text(min_size=1, max_size=12)
runs = st.builds(
    RunSummary,
    run_id=name,
    device_id=name,
    start_ms=ms,
    end_ms=ms,
    km=real,
    samples=st.integers(0, 100_000),
    cadence_spm=maybe_real,
)
loads = st.builds(
    LoadSnapshot,
    as_of_ms=ms,
    week_km=real,
    prev_week_km=real,
    change_pct=maybe_real,
    chronic_week_km=real,
    acwr=maybe_real,
    acwr_ewma=maybe_real,
    history_days=real,
)
evaluations = st.builds(
    RunEvaluation,
    run=runs,
    load=loads,
    cadence_baseline_spm=maybe_real,
    cadence_dev_pct=maybe_real,
    live=st.booleans(),
    final=st.booleans(),
    device_km=maybe_real,
)
updates = st.builds(
    RunnerUpdate,
    runner=name,
    team=name,
    touched=st.lists(evaluations, max_size=3).map(tuple),
    latest=evaluations,
    recent=st.lists(runs, max_size=4).map(tuple),
    recent_after_ms=st.none() | ms,
    recent_kind=st.sampled_from(["window", "delta"]),
)


def shape(value):
    """A model as nested (type, value) pairs: equal shapes mean equal values of the same types."""
    if isinstance(value, BaseModel):
        return (type(value).__name__, tuple((key, shape(v)) for key, v in value.__dict__.items()))
    if isinstance(value, tuple | list):
        return (type(value).__name__, tuple(shape(v) for v in value))
    return (type(value).__name__, value)


@settings(max_examples=200, deadline=None)
@given(st.lists(updates, min_size=1, max_size=4))
def test_updates_are_read_back_as_validation_reads_them_field_for_field_and_type_for_type(sent):
    value = b"[" + b",".join(update.model_dump_json().encode() for update in sent) + b"]"
    validated = TypeAdapter(list[RunnerUpdate]).validate_json(value)
    read = unpack_updates(value)
    assert read == validated
    assert [shape(update) for update in read] == [shape(update) for update in validated]


def test_a_record_from_an_older_stream_without_the_newer_fields_takes_their_defaults():
    update = an_update("ana", 0)
    old = json.loads(update.model_dump_json())
    for key in ("recent_kind", "recent_after_ms"):
        del old[key]
    for evaluation in (old["latest"], *old["touched"]):
        del evaluation["final"], evaluation["device_km"]
    (read,) = unpack_updates(json.dumps([old]).encode())
    assert read == TypeAdapter(RunnerUpdate).validate_python(old)
    assert (read.recent_kind, read.latest.final, read.latest.device_km) == ("window", True, None)


def test_a_record_missing_a_required_field_is_refused():
    broken = json.loads(an_update("ana", 0).model_dump_json())
    del broken["latest"]["run"]["km"]
    with pytest.raises(KeyError, match="RunSummary.km"):
        unpack_updates(json.dumps(broken).encode())


def test_a_whole_number_written_without_a_point_is_read_as_a_float_as_validation_reads_it():
    record = json.loads(an_update("ana", 0).model_dump_json())
    record["latest"]["run"]["km"], record["latest"]["load"]["acwr"] = 5, 1
    (read,) = unpack_updates(json.dumps(record).encode())
    assert shape(read) == shape(TypeAdapter(RunnerUpdate).validate_python(record))
    assert type(read.latest.run.km) is float and type(read.latest.load.acwr) is float
