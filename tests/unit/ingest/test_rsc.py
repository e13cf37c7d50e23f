"""RSC Measurement decoding: the shared vectors from other projects' tests, and a round trip."""

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.gateway.rsc import RscError, decode, encode, expected_length

VECTORS_PATH = Path(os.environ.get("FOOTPOD_RSC_VECTORS", "/work/shared/rsc/vectors.json"))
COPY = Path(__file__).parent / "rsc_vectors.json"  # the same file, kept with the tests
VECTORS = json.loads((VECTORS_PATH if VECTORS_PATH.exists() else COPY).read_text())["vectors"]
VALID = [v for v in VECTORS if v["valid"]]
INVALID = [v for v in VECTORS if not v["valid"]]


def test_the_vector_file_has_valid_and_invalid_cases():
    assert len(VALID) == 11 and len(INVALID) == 3


@pytest.mark.parametrize("vector", VALID, ids=[v["name"] for v in VALID])
def test_each_valid_vector_decodes_to_its_expected_values(vector):
    measurement = decode(bytes.fromhex(vector["hex"]))

    assert measurement.model_dump() == vector["expected"]


@pytest.mark.parametrize("vector", INVALID, ids=[v["name"] for v in INVALID])
def test_each_invalid_vector_is_rejected_with_a_reason(vector):
    with pytest.raises(RscError) as error:
        decode(bytes.fromhex(vector["hex"]))
    assert "bytes" in str(error.value)


def test_a_truncated_value_names_what_its_flags_announce():
    with pytest.raises(RscError, match="flags 0x07 announce 10 bytes, 9 received"):
        decode(bytes.fromhex("070003125600000000"))


def test_bytes_beyond_what_the_flags_announce_are_rejected_too():
    with pytest.raises(RscError, match="flags 0x00 announce 4 bytes, 5 received"):
        decode(bytes.fromhex("008002b400"))


def test_reserved_flag_bits_are_ignored():
    measurement = decode(bytes.fromhex("f88002b4"))  # bits 3-7 set, bit 2 clear

    assert (measurement.running, measurement.speed_mps, measurement.cadence_per_min) == (False, 2.5, 180)


@given(
    flags=st.integers(0, 7),
    speed=st.integers(0, 0xFFFF),
    cadence=st.integers(0, 0xFF),
    stride=st.integers(0, 0xFFFF),
    total=st.integers(0, 2**32 - 1),
)
def test_encoding_then_decoding_gives_back_the_field_values(flags, speed, cadence, stride, total):
    data = encode(
        speed / 256,
        cadence,
        running=bool(flags & 4),
        stride_length_m=stride / 100 if flags & 1 else None,
        total_distance_m=total / 10 if flags & 2 else None,
    )

    measurement = decode(data)
    assert len(data) == expected_length(flags)
    assert measurement.flags == flags
    assert (measurement.speed_mps, measurement.cadence_per_min) == (speed / 256, cadence)
    assert measurement.stride_length_m == (stride / 100 if flags & 1 else None)
    assert measurement.total_distance_m == (total / 10 if flags & 2 else None)


@given(st.binary(max_size=16))
def test_any_bytes_decode_or_raise_an_rsc_error(data):
    try:
        measurement = decode(data)
    except RscError:
        return
    assert len(data) == expected_length(measurement.flags)
