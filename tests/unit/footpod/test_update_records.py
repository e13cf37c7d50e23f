"""The stream's updates packed into Kafka records, per partition and bounded in bytes, and read back."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from footpod.records import RunnerUpdate, pack_updates, unpack_updates
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


def test_a_record_from_an_older_stream_without_the_newer_fields_takes_their_defaults():
    update = an_update("ana", 0)
    old = json.loads(update.model_dump_json())
    for key in ("recent_kind", "recent_after_ms"):
        del old[key]
    for evaluation in (old["latest"], *old["touched"]):
        del evaluation["final"], evaluation["device_km"]
    (read,) = unpack_updates(json.dumps([old]).encode())
    assert (read.recent_kind, read.latest.final, read.latest.device_km) == ("window", True, None)


def test_a_live_updates_latest_run_is_written_once_and_read_back_in_place():
    update = an_update("ana", 0)  # its latest is the evaluation it touched, as a live step's
    ((_, value),) = pack_updates([update], partition_of)
    written = json.loads(value)[0]
    assert "latest" not in written and written["latest_touched"] == 0
    assert value.count(update.latest.run.run_id.encode()) == 2  # in `touched` and `recent`, not a third time
    (read,) = unpack_updates(value)
    assert read == update and type(read) is RunnerUpdate
    assert read.latest is read.touched[0]


def test_an_update_whose_latest_it_did_not_touch_is_written_whole():
    update = an_update("ana", 0)
    other = an_evaluation(update.recent[0], a_load(update.recent[0].end_ms, 12.0, 8.0), live=False)
    whole = update.model_copy(update={"latest": other})
    ((_, value),) = pack_updates([whole], partition_of)
    assert "latest_touched" not in json.loads(value)[0]
    assert unpack_updates(value) == [whole]


def test_an_update_naming_no_latest_run_is_refused():
    written = json.loads(pack_updates([an_update("ana", 0)], partition_of)[0][1])
    for index in (None, 1, -1):
        written[0]["latest_touched"] = index
        with pytest.raises(ValueError, match="names no latest run"):
            unpack_updates(json.dumps(written).encode())
