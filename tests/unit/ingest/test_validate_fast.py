"""The bridge's one-pass check of an all-good message takes only what the models take, as the same values."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.validate import _all_good, _load_json, _validate

NOW = 1_764_000_000_000
LATEST = NOW + 300_000

_edges = st.one_of(st.booleans(), st.just(1e400), st.just(-0.0), st.just(-1), st.just(2**70), st.just("5"), st.none())
_cadence = st.one_of(st.floats(0, 260), st.integers(0, 260), st.one_of(st.floats(0, 260), st.just(260.0000001), _edges))
_distance = st.one_of(st.floats(0, 1e12), st.integers(0, 10**6), st.one_of(st.floats(0, 1e12), _edges))
_speed = st.one_of(st.floats(0, 12), st.floats(0, 12), st.one_of(st.just(12.5), _edges))
_item = st.fixed_dictionaries(
    {
        "ts": st.one_of(
            st.integers(NOW - 10**11, NOW + 10**6),
            st.integers(NOW - 10**11, NOW),
            st.just(float(NOW)),
            st.just("2026-11-24T07:41:00Z"),
            st.just(True),
            st.just(0),
            st.just(253_402_300_800_000),
        ),
        "device_id": st.one_of(
            st.from_regex(r"[A-Za-z0-9_.:-]{1,64}", fullmatch=True),
            st.just("pod-1"),
            st.just("pod\n"),
            st.just("p" * 65),
            st.just(""),
            st.just(7),
        ),
        "cadence_spm": _cadence,
        "distance_m": _distance,
    },
    optional={
        "speed_mps": _speed,
        "seq": st.one_of(st.integers(-2, 2**64), st.just(3.0), st.none()),
        "run_id": st.one_of(st.none(), st.text(max_size=130), st.just("")),
        "extra": st.one_of(st.integers(), st.just([[1]]), st.just({"a": {"b": 1}})),
    },
)


@settings(max_examples=1000)
@given(st.one_of(st.lists(_item, max_size=5), _item))
def test_what_the_one_pass_check_takes_the_models_take_alike(document):
    payload = json.dumps(document).encode()
    fast = _all_good(payload, LATEST)
    if fast is None:
        return  # judged by the models, as before
    items = _load_json(payload)
    good, problems = _validate(items if isinstance(items, list) else [items], isinstance(items, list))
    assert not problems and all(sample.ts <= LATEST for sample in good)
    fields = ("ts", "device_id", "cadence_spm", "distance_m", "speed_mps", "seq", "run_id")
    assert [tuple(getattr(s, f) for f in fields) for s in fast] == [tuple(getattr(s, f) for f in fields) for s in good]


def test_a_usual_synced_message_takes_the_one_pass_check():
    samples = [
        {"ts": NOW - 1000 * (60 - i), "device_id": "pod-1", "cadence_spm": 171, "distance_m": 2.9 * i, "speed_mps": 2.9}
        for i in range(60)
    ]
    assert len(_all_good(json.dumps(samples).encode(), LATEST)) == 60
