"""Kafka records made by the bridge stay under the broker's size limit (Apache Kafka: 1 MB)."""

import json

from footpod.contract import CountedSample, SampleBatch
from ingest.bridge import MAX_RECORD_BYTES, ReasonLog, sample_records


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
