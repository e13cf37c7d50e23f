"""Kafka records made by the bridge stay under the broker's size limit (Apache Kafka: 1 MB)."""

import json

from hypothesis import given
from hypothesis import strategies as st

from footpod import kafka
from footpod.contract import CountedSample, SampleBatch
from footpod.records import decode_sample_batches
from ingest.bridge import MAX_RECORD_BYTES, ReasonLog, _records, sample_records
from ingest.validate import Verdict, judge

T = 1_764_000_000_000


def batch_of(count: int, id_chars: int = 64) -> SampleBatch:
    samples = tuple(
        CountedSample(
            ts=1_764_000_000_000 + i * 1000,
            device_id="d" * id_chars,
            cadence_spm=171.5,
            distance_m=i * 2.75,
            speed_mps=3.1,
            seq=i,
            run_id="r" * id_chars,
        )
        for i in range(count)
    )
    return SampleBatch(runner="alice", received_ms=1_764_000_000_000, samples=samples)


def test_5000_samples_with_long_ids_are_split_into_records_under_the_limit():
    batch = batch_of(5_000)
    assert len(batch.model_dump_json()) > 1_000_000  # one record would exceed Kafka's default
    values = sample_records(batch)
    assert len(values) > 1 and all(len(value) <= MAX_RECORD_BYTES for value in values)
    carried = [s["ts"] for value in values for s in json.loads(value)["samples"]]
    assert carried == [s.ts for s in batch.samples]  # every sample once, in order


def test_a_small_batch_stays_one_record():
    assert len(sample_records(batch_of(10))) == 1


def test_reasons_that_differ_only_in_numbers_are_counted_together():
    reasons = ReasonLog(clock=lambda: 0.0)
    reasons.record("sample 3: cadence_spm: too high")
    reasons.record("sample 17: cadence_spm: too high")
    assert list(reasons.counts.values()) == [2]


_messages = st.lists(
    st.tuples(st.sampled_from(["alice", "bob", "carla", "dev", "emil"]), st.integers(1, 40), st.booleans()),
    min_size=1,
    max_size=30,
)


@given(_messages, st.integers(1, 4))
def test_a_hand_off_packs_each_partitions_samples_into_records_each_runner_on_its_own(messages, partitions):
    """One record per partition (and per byte bound) instead of one per message; every sample in one
    record exactly once, on its runner's partition, each runner's in the order received."""

    def partition_of(runner: str) -> int:
        return len(runner) % partitions

    verdicts, sent = [], {}
    for m, (runner, count, bad) in enumerate(messages):
        samples = [
            {"ts": T + m * 100_000 + i * 1000, "device_id": f"{runner}-pod", "cadence_spm": 170, "distance_m": i}
            for i in range(count)
        ]
        if bad:  # a pain report and a broken payload ride along, one keyed record each
            verdicts.append(judge(f"footpod/{runner}/pain", json.dumps({"ts": T, "score": 3}).encode(), T, 60_000))
            verdicts.append(judge(f"footpod/{runner}/samples", b"[1, 2", T, 60_000))
        verdicts.append(judge(f"footpod/{runner}/samples", json.dumps(samples).encode(), T + 10**9, 60_000))
        sent.setdefault(runner, []).extend(s["ts"] for s in samples)
    records = _records(verdicts, partition_of)
    packed = [(partition, value) for topic, key, value, partition in records if topic == kafka.SAMPLES]
    assert len(packed) == len({partition_of(runner) for runner in sent})  # far below the byte bound
    carried: dict[str, list[int]] = {}
    for partition, value in packed:
        for batch in decode_sample_batches(value):
            assert partition_of(batch.runner) == partition
            carried.setdefault(batch.runner, []).extend(s.ts for s in batch.samples)
    assert carried == sent
    others = [(topic, key, partition) for topic, key, value, partition in records if topic != kafka.SAMPLES]
    bad = sum(bad for _, _, bad in messages)
    assert sorted(topic for topic, _, _ in others) == sorted([kafka.PAIN] * bad + [kafka.DEADLETTER] * bad)
    assert all(key and partition is None for _, key, partition in others)


def test_packed_records_stay_within_the_byte_bound():
    batch = batch_of(5_000)
    verdict = Verdict(batches=[batch, batch.model_copy(update={"runner": "bob"})])
    records = _records([verdict], lambda runner: 0)
    values = [value for _, _, value, _ in records]
    assert len(values) > 2 and all(len(value) <= MAX_RECORD_BYTES for value in values)
    carried = [(b.runner, s.ts) for value in values for b in decode_sample_batches(value) for s in b.samples]
    assert carried == [(runner, s.ts) for runner in ("alice", "bob") for s in batch.samples]
