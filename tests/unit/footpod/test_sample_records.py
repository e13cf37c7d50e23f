"""The stream reads the bridge's sample records with msgspec: every field as pydantic wrote it."""

from hypothesis import given
from hypothesis import strategies as st

from footpod.contract import CountedSample, SampleBatch
from footpod.records import decode_sample_batch, decode_sample_batches, pack_json

_samples = st.builds(
    CountedSample,
    ts=st.integers(946_684_800_000, 253_402_300_799_999),
    device_id=st.from_regex(r"[A-Za-z0-9_.:-]{1,64}", fullmatch=True),
    cadence_spm=st.floats(0, 260) | st.integers(0, 260).map(float),
    distance_m=st.floats(0, 1e9),
    speed_mps=st.none() | st.floats(0, 12),
    seq=st.none() | st.integers(0, 2**53),
    run_id=st.none() | st.text(min_size=1, max_size=128),
)


@given(st.lists(_samples, min_size=1, max_size=20))
def test_a_record_decodes_to_the_samples_the_bridge_wrote(samples):
    batch = SampleBatch(runner="alice", received_ms=1_764_000_000_000, samples=tuple(samples))
    decoded = decode_sample_batch(batch.model_dump_json().encode())
    assert (decoded.runner, decoded.received_ms) == (batch.runner, batch.received_ms)
    assert [
        (s.ts, s.device_id, s.cadence_spm, s.distance_m, s.speed_mps, s.seq, s.run_id) for s in decoded.samples
    ] == [(s.ts, s.device_id, s.cadence_spm, s.distance_m, s.speed_mps, s.seq, s.run_id) for s in samples]


@given(st.lists(st.tuples(st.sampled_from(["alice", "bob"]), st.lists(_samples, min_size=1, max_size=5)), max_size=6))
def test_a_packed_record_decodes_to_its_batches_in_order_and_a_lone_batch_too(parts):
    batches = [SampleBatch(runner=runner, received_ms=1_764_000_000_000, samples=tuple(s)) for runner, s in parts]
    values = [batch.model_dump_json().encode() for batch in batches]
    [(_, packed)] = pack_json([(0, value) for value in values], max_bytes=10**9) or [(0, b"[]")]
    assert [(b.runner, [s.ts for s in b.samples]) for b in decode_sample_batches(packed)] == [
        (b.runner, [s.ts for s in b.samples]) for b in batches
    ]
    for batch, value in zip(batches, values):
        assert [b.samples[-1].ts for b in decode_sample_batches(value)] == [batch.samples[-1].ts]
