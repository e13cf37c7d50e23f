"""A pod's odometer: steps of its total distance, resets and jumps add nothing, speed × time otherwise."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.gateway.distance import GLITCH_MPS, MAX_GAP_S, RELEASE_SHARE, Odometer, advance, release

T0 = 1_780_000_000_000


def run(readings, odometer=None):
    """Feed (seconds after T0, speed, total or None) readings; the odometer and the events."""
    odometer = odometer or Odometer()
    events = []
    for seconds, speed, total in readings:
        odometer, _, event = advance(odometer, T0 + round(seconds * 1000), speed, total)
        events.append(event)
    return odometer, events


# (readings, expected distance, expected events): each row says why
TABLE = [
    # the first total is a baseline: a pod's total counts from its last reset, not from the run
    ([(0, 3.0, 5000.0), (1, 3.0, 5003.0), (2, 3.0, 5006.5)], 6.5, ["start", None, None]),
    # a total that falls is a reset: nothing added, the new value is the baseline
    ([(0, 3.0, 900.0), (1, 3.0, 903.0), (2, 3.0, 1.0), (3, 3.0, 4.0)], 6.0, ["start", None, "reset", None]),
    # a Set Cumulative Value jump (+10 km in a second) is far past 12 m/s: nothing added
    ([(0, 3.0, 100.0), (1, 3.0, 10_100.0), (2, 3.0, 10_103.0)], 3.0, ["start", "jump", None]),
    # exactly 12 m/s is still running
    ([(0, 3.0, 0.0), (1, 3.0, 12.0)], 12.0, ["start", None]),
    # a total after a 60 s dropout that a runner can cover is counted
    ([(0, 3.0, 0.0), (60, 3.0, 200.0)], 200.0, ["start", None]),
    # without total distance: speed × time between readings
    ([(0, 2.0, None), (1, 3.0, None), (3, 4.0, None)], 3.0 + 8.0, ["start", None, None]),
    # without total distance, a silence longer than 5 s adds nothing (no guessing across a dropout)
    ([(0, 3.0, None), (1, 3.0, None), (30, 3.0, None), (31, 3.0, None)], 6.0, ["start", None, "gap", None]),
    # a reading at or before the last one (a repeated tick) changes nothing
    ([(0, 3.0, None), (1, 3.0, None), (1, 3.0, None), (0.5, 3.0, None)], 3.0, ["start", None, "stale", "stale"]),
    # a pod that stops sending total distance goes on by speed × time, and back without a jump
    (
        [(0, 3.0, 10.0), (1, 3.0, 13.0), (2, 3.0, None), (3, 3.0, 19.0), (4, 3.0, 22.0)],
        9.0,
        ["start", None, None, "start", None],
    ),
]


@pytest.mark.parametrize(("readings", "distance", "events"), TABLE)
def test_the_odometer_table(readings, distance, events):
    odometer, seen = run(readings)

    assert odometer.distance_m == pytest.approx(distance)
    assert seen == events


def test_the_odometer_goes_on_from_where_it_was_kept():
    kept, _ = run([(0, 3.0, 100.0), (1, 3.0, 103.0)])

    resumed, events = run([(2, 3.0, 106.0)], odometer=Odometer.model_validate_json(kept.model_dump_json()))
    assert resumed.distance_m == pytest.approx(6.0) and events == [None]


readings = st.lists(
    st.tuples(st.integers(-2000, 90_000), st.floats(0, 15), st.one_of(st.none(), st.floats(0, 1e6))), max_size=60
)


@given(readings)
def test_the_odometer_never_runs_backwards_nor_faster_than_a_runner(steps):
    odometer, ts = Odometer(), T0
    for delta_ms, speed, total in steps:
        ts += delta_ms
        before = odometer
        odometer, added, _ = advance(odometer, ts, speed, total)
        assert odometer.distance_m == before.distance_m + added
        assert added >= 0
        if added:
            assert added <= GLITCH_MPS * (ts - before.last_ts_ms) / 1000 + 1e-9


@given(st.lists(st.tuples(st.integers(1, 3000), st.floats(0, 11.9)), min_size=1, max_size=60))
def test_a_plausible_rising_total_is_counted_in_full(steps):
    odometer, _, _ = advance(Odometer(), T0, 3.0, 0.0)
    ts, total = T0, 0.0
    for delta_ms, speed in steps:
        ts += delta_ms
        total += speed * delta_ms / 1000
        odometer, _, event = advance(odometer, ts, speed, total)
        assert event is None
    assert odometer.distance_m == pytest.approx(total)


@given(st.lists(st.tuples(st.integers(1, round(MAX_GAP_S * 1000)), st.floats(0, 11.9)), min_size=1, max_size=60))
def test_without_total_distance_speed_times_time_is_counted(steps):
    odometer, _, _ = advance(Odometer(), T0, 0.0, None)
    ts, expected = T0, 0.0
    for delta_ms, speed in steps:
        ts += delta_ms
        expected += speed * delta_ms / 1000
        odometer, _, _ = advance(odometer, ts, speed, None)
    assert odometer.distance_m == pytest.approx(expected)


# ---------------------------------------------------------------------------- release to samples


def released(steps, glitch_mps=GLITCH_MPS):
    """Feed (sample seconds after T0, odometer distance) pairs; the distances the samples carry."""
    odometer, carried = Odometer(), []
    for seconds, distance in steps:
        odometer = release(
            odometer.model_copy(update={"distance_m": distance}), T0 + round(seconds * 1000), glitch_mps=glitch_mps
        )
        carried.append(round(odometer.published_m, 6))
    return carried


RELEASE_TABLE = [
    # the first sample carries the odometer as it is: the stream takes it as the baseline
    ([(0, 500.0), (1, 503.0), (2, 506.0)], [500.0, 503.0, 506.0]),
    # a late notification puts 30 m into one tick: 10.8 m/s go out per second until it has caught up
    ([(0, 0.0), (1, 30.0), (2, 33.0), (3, 36.0), (4, 39.0)], [0.0, 10.8, 21.6, 32.4, 39.0]),
    # after a 60 s silence (the gateway restarting) a 180 m step is 3 m/s: all of it at once
    ([(0, 0.0), (60, 180.0)], [0.0, 180.0]),
    # a repeated tick carries nothing new
    ([(0, 10.0), (1, 13.0), (1, 20.0)], [10.0, 13.0, 13.0]),
]


@pytest.mark.parametrize(("steps", "carried"), RELEASE_TABLE)
def test_the_release_table(steps, carried):
    assert released(steps) == pytest.approx(carried)


@given(st.lists(st.tuples(st.integers(1, 5000), st.floats(0, 100)), min_size=1, max_size=60))
def test_samples_never_step_faster_than_the_stream_allows_and_catch_up_in_the_end(steps):
    odometer, ts = release(Odometer(), T0), T0
    for delta_ms, gain in steps:
        ts += delta_ms
        before = odometer
        odometer = release(odometer.model_copy(update={"distance_m": odometer.distance_m + gain}), ts)
        step = odometer.published_m - before.published_m
        assert 0 <= step <= RELEASE_SHARE * GLITCH_MPS * delta_ms / 1000 + 1e-9
        assert odometer.published_m <= odometer.distance_m + 1e-9
    later = release(odometer, ts + round(odometer.distance_m / (RELEASE_SHARE * GLITCH_MPS) * 1000) + 1000)
    assert later.published_m == pytest.approx(odometer.distance_m)
