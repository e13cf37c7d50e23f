"""A segment keeps its readings packed (`Segment.tally`) and gives back the same numbers, stored,
compared and joined as when each was a field of its own."""

import json
import math

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from footpod.settings import Settings
from streams.segments import Segment, distance_step, join, load_params

PARAMS = load_params(Settings())
STORED = "start_ms end_ms first_m last_m meters samples running_samples running_spm_sum run_id arrived_ms".split()
_metres = st.floats(0, 1e6) | st.just(-0.0)
_fields = st.fixed_dictionaries(
    {
        "start_ms": st.integers(0, 2**45),
        "end_ms": st.integers(0, 2**45),
        "first_m": _metres,
        "last_m": _metres,
        "meters": _metres,
        "samples": st.integers(0, 10**7),
        "running_samples": st.integers(0, 10**7),
        "running_spm_sum": st.floats(0, 1e9),
        "run_id": st.none() | st.text(min_size=1, max_size=8),
        "arrived_ms": st.none() | st.integers(0, 2**45),
    }
)


@given(_fields)
def test_a_segment_gives_back_its_readings_and_dumps_them_by_name(fields):
    segment = Segment.of(**fields)
    dumped = segment.model_dump()
    assert list(dumped) == STORED  # the stored names, in the stored order
    assert json.dumps(dumped) == json.dumps({name: fields[name] for name in STORED})  # same numbers, signs, types
    assert {name: getattr(segment, name) for name in fields} == fields
    assert segment.open == (fields["arrived_ms"] is not None)


@given(_fields)
def test_a_stored_segment_reads_back_the_same(fields):
    segment = Segment.of(**fields)
    stored = json.loads(json.dumps(segment.model_dump()))
    assert Segment.model_validate(stored) == segment
    assert Segment.model_validate(stored).model_dump() == segment.model_dump()
    assert Segment.model_validate(segment) is segment


def test_a_stored_segment_takes_whole_metres_as_floats_and_rejects_wrong_types():
    stored = {
        "start_ms": 1,
        "end_ms": 2,
        "first_m": 0,
        "last_m": 3,
        "meters": 3,
        "samples": 2,
        "running_samples": 2,
        "running_spm_sum": 340,
    }
    segment = Segment.model_validate(stored)
    assert json.dumps(segment.model_dump()).count(".0") == 4 and segment.run_id is None
    with pytest.raises(msgspec.ValidationError):
        Segment.model_validate({**stored, "samples": "two"})
    with pytest.raises(msgspec.ValidationError):
        Segment.model_validate({**stored, "meters": None})


@given(_fields, _fields)
def test_segments_are_equal_when_their_numbers_are(a, b):
    assert (Segment.of(**a) == Segment.of(**b)) == (a == b)  # 0.0 == -0.0, as numbers compare
    if a == b:
        assert hash(Segment.of(**a)) == hash(Segment.of(**b))


@given(_fields, st.none() | st.integers(0, 2**45), _metres)
def test_a_copy_changes_only_what_it_is_given(fields, arrived_ms, meters):
    segment = Segment.of(**fields)
    assert segment.model_copy({"arrived_ms": arrived_ms}).model_dump() == {**fields, "arrived_ms": arrived_ms}
    assert segment.model_copy({"meters": meters}).model_dump() == {**fields, "meters": meters}


@given(_fields, _fields)
def test_joining_sums_the_readings_with_the_step_between_counted_once(a, b):
    joined = join(Segment.of(**a), Segment.of(**b), PARAMS)
    bridge = distance_step(a["last_m"], b["first_m"], b["start_ms"] - a["end_ms"], PARAMS.glitch_mps)
    arrivals = [t for t in (a["arrived_ms"], b["arrived_ms"]) if t is not None]
    assert joined.model_dump() == {
        "start_ms": a["start_ms"],
        "end_ms": b["end_ms"],
        "first_m": a["first_m"],
        "last_m": b["last_m"],
        "meters": a["meters"] + bridge + b["meters"],
        "samples": a["samples"] + b["samples"],
        "running_samples": a["running_samples"] + b["running_samples"],
        "running_spm_sum": a["running_spm_sum"] + b["running_spm_sum"],
        "run_id": a["run_id"],
        "arrived_ms": max(arrivals) if arrivals else None,
    }


def test_a_segment_reads_as_its_fields():
    segment = Segment.of(1, 2, 0.0, 3.0, 3.0, 2, 2, 340.0)
    assert repr(segment) == (
        "Segment(start_ms=1, end_ms=2, first_m=0.0, last_m=3.0, meters=3.0, samples=2, running_samples=2, "
        "running_spm_sum=340.0, run_id=None, arrived_ms=None)"
    )


_any_float = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 1e16, 1e-7, 0.1]) | st.floats()


@given(
    st.integers(-(2**62), 2**62),
    st.integers(-(2**62), 2**62),
    st.tuples(_any_float, _any_float, _any_float, st.integers(0, 2**62), st.integers(0, 2**62), _any_float),
    st.none() | st.text(),
    st.none() | st.integers(0, 2**62),
)
def test_a_segment_is_written_as_json_dumps_writes_it(start, end, readings, run_id, arrived):
    segment = Segment.of(start, end, *readings, run_id=run_id, arrived_ms=arrived)
    assert segment.json() == json.dumps(segment.model_dump(), separators=(",", ":"))
