"""One run is one `run` point whatever the arrival order (issue 9: no ghost runs)."""

import random
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from footpod.load import DAY_MS
from tests.unit.streams.stream_histories import PARAMS, T0, deliver, run, settle, shuffled_batches

NOW = T0 + DAY_MS


def store(lines: list[str]) -> dict[tuple[str, str], dict[str, str]]:
    """The `run` points as InfluxDB keeps them: one per series and time, later fields overwrite."""
    points: dict[tuple[str, str], dict[str, str]] = {}
    for line in lines:
        if not line.startswith("run,"):
            continue
        series, rest = line.split(" ", 1)
        fields, ts = rest.rsplit(" ", 1)
        points.setdefault((series, ts), {}).update(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|[^,]+)', fields))
    return points


def km_per_day(points) -> float:
    return sum(float(fields["km"]) for fields in points.values())


def test_late_samples_before_a_run_leave_no_ghost_of_its_old_start():
    samples = run(T0, 1800)
    state, first = deliver([samples[900:]], NOW)
    _, second = deliver([samples[:900]], NOW + 5000, state=state)
    points = store(first[0].lines + second[0].lines)
    assert round(km_per_day(points), 6) == 5.4  # not 5.4 + 2.7: the half first seen is superseded
    assert sum(float(f["km"]) > 0 for f in points.values()) == 1


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), pieces=st.integers(1, 10), every=st.sampled_from(["1s", "5s", "1-10s"]))
def test_any_arrival_order_stores_each_run_once(seed, pieces, every):
    rng = random.Random(seed)
    samples = run(T0, 1200, every, rng=rng) + run(T0 + 2 * 3_600_000, 600, every, rng=rng, mps=4.0)
    state, results = deliver(shuffled_batches(samples, rng, pieces, 1), NOW)
    judged = settle(state, NOW + pieces * 1000 + PARAMS.settle_ms)
    points = store([line for result in [*results, judged] for line in result.lines])
    assert abs(km_per_day(points) - (3.6 + 2.4)) < 1e-6
    assert sum(float(f["km"]) > 0 for f in points.values()) == 2
    assert all(f["final"] == "true" for f in points.values() if float(f["km"]) > 0)


def test_a_run_synced_twice_writes_no_new_point():
    samples = run(T0, 600)
    state, _ = deliver([samples], NOW)
    _, again = deliver([samples], NOW + DAY_MS, state=state)
    assert again[0].lines == []
