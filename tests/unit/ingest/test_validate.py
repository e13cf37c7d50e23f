"""The bridge's judgement of MQTT messages (CONTRACT.md: samples, pain, bad input)."""

import json
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.validate import MAX_SAMPLES_PER_RECORD, judge

NOW = 1_764_000_000_000
FIVE_MIN = 300_000


def sample(**over):
    base = {"ts": NOW - 1000, "device_id": "pod-1", "cadence_spm": 172, "distance_m": 1234.5}
    base.update(over)
    return base


def run(topic, payload):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return judge(topic, raw, NOW, FIVE_MIN)


def test_one_good_sample_becomes_one_batch_keyed_by_the_runner():
    verdict = run("footpod/alice/samples", sample())
    assert [b.runner for b in verdict.batches] == ["alice"] and not verdict.rejects
    assert verdict.batches[0].samples[0].ts == NOW - 1000


def test_an_array_stays_one_batch():
    verdict = run("footpod/alice/samples", [sample(ts=NOW - i * 1000) for i in range(1, 50)])
    assert len(verdict.batches) == 1 and len(verdict.batches[0].samples) == 49


def test_a_huge_array_is_split_into_records_of_bounded_size():
    verdict = run("footpod/alice/samples", [sample(ts=NOW - i * 1000) for i in range(1, MAX_SAMPLES_PER_RECORD + 11)])
    assert [len(b.samples) for b in verdict.batches] == [MAX_SAMPLES_PER_RECORD, 10]


def test_rfc3339_timestamps_with_offset_are_read_as_epoch_ms():
    verdict = run("footpod/alice/samples", sample(ts="2025-11-24T17:00:00+01:00"))
    expected = int(datetime(2025, 11, 24, 16, 0, tzinfo=timezone.utc).timestamp() * 1000)
    assert verdict.batches[0].samples[0].ts == expected


@pytest.mark.parametrize(
    "payload, reason_part",
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe garbage", "not JSON"),
        (b'{"ts": NaN, "device_id": "p", "cadence_spm": 1, "distance_m": 1}', "NaN"),
        (json.dumps(sample(cadence_spm=300)).encode(), "cadence_spm"),
        (json.dumps(sample(distance_m=-1)).encode(), "distance_m"),
        (json.dumps({"ts": NOW, "device_id": "p"}).encode(), "cadence_spm: Field required"),
        (json.dumps(sample(device_id="bad id!")).encode(), "device_id"),
        (json.dumps(sample(ts="2025-11-24T17:00:00")).encode(), "UTC offset"),
        (json.dumps(sample(ts=0)).encode(), "before 2000"),
        (json.dumps(sample(ts=-5)).encode(), "before 2000"),
        (json.dumps(sample(ts=True)).encode(), "ts"),
        (json.dumps(sample(ts=NOW + FIVE_MIN + 1)).encode(), "in the future"),
        (json.dumps(sample(ts=NOW + 10 * 365 * 86_400_000)).encode(), "in the future"),
        (b"[]", "empty array"),
        (b"42", "valid dictionary"),
    ],
)
def test_bad_samples_are_dead_lettered_with_the_reason(payload, reason_part):
    verdict = run("footpod/alice/samples", payload)
    assert not verdict.batches
    assert len(verdict.rejects) == 1
    assert reason_part in verdict.rejects[0].reason
    assert verdict.rejects[0].topic == "footpod/alice/samples"


def test_a_timestamp_exactly_five_minutes_ahead_is_accepted():
    assert run("footpod/alice/samples", sample(ts=NOW + FIVE_MIN)).batches


def test_in_a_batch_only_the_bad_samples_are_dead_lettered():
    payload = [sample(ts=NOW - 3000), sample(ts=NOW - 2000, cadence_spm="fast"), sample(ts=NOW - 1000)]
    verdict = run("footpod/alice/samples", payload)
    assert [s.ts for s in verdict.batches[0].samples] == [NOW - 3000, NOW - 1000]
    assert [r.reason.split(":")[0] for r in verdict.rejects] == ["sample 1"]


@pytest.mark.parametrize("topic", ["footpod/alice", "footpod/al ice/samples", "footpod/alice/other",
                                   "elsewhere/alice/samples", "footpod/" + "a" * 65 + "/samples"])
def test_a_topic_that_does_not_parse_is_dead_lettered(topic):
    verdict = run(topic, sample())
    assert not verdict.batches and "topic" in verdict.rejects[0].reason or "runner" in verdict.rejects[0].reason


def test_a_non_utf8_payload_keeps_its_bytes_in_base64():
    verdict = run("footpod/alice/samples", b"\xff\x00")
    assert verdict.rejects[0].payload_b64 == "/wA="


def test_a_good_pain_report_becomes_a_pain_event():
    verdict = run("footpod/alice/pain", {"ts": NOW, "score": 4, "flags": ["swelling"], "timing": "after"})
    assert verdict.pain.runner == "alice" and verdict.pain.report.flags == ("swelling",)


@pytest.mark.parametrize("payload", [{"ts": NOW, "score": 11}, {"ts": NOW, "score": 3.5},
                                     {"ts": NOW, "score": 3, "flags": ["sore"]}, {"score": 2}])
def test_bad_pain_reports_are_dead_lettered(payload):
    verdict = run("footpod/alice/pain", payload)
    assert verdict.pain is None and len(verdict.rejects) == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_and_are_either_accepted_or_dead_lettered(payload):
    verdict = judge("footpod/alice/samples", payload, NOW, FIVE_MIN)
    assert verdict.batches or verdict.rejects
