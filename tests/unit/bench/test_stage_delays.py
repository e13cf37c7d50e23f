"""The live bench's delay by stage: a stage's histogram over the live load, read as Prometheus reads it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.histogram import stage_delays

BOUNDS = (0.1, 0.2, 0.5, 1.0, float("inf"))


def cumulative(counts: list[int]) -> dict[float, float]:
    total, result = 0, {}
    for bound, count in zip(BOUNDS, counts, strict=True):
        total += count
        result[bound] = float(total)
    return result


def test_a_quantile_is_interpolated_within_its_bucket():
    # 100 delays: 20 up to 0.1 s, 60 in (0.1, 0.2], 20 in (0.2, 0.5]
    delays = stage_delays({}, {"stream": cumulative([20, 60, 20, 0, 0])})["stream"]
    assert delays["n"] == 100
    assert delays["p50"] == pytest.approx(0.1 + 0.1 * (50 - 20) / 60)
    assert delays["p99"] == pytest.approx(0.2 + 0.3 * (99 - 80) / 20)


def test_only_what_the_live_load_added_counts():
    before = cumulative([1000, 0, 0, 0, 0])  # the warm-up: all fast
    after = cumulative([1000, 0, 0, 10, 0])  # the load: 10 delays in (0.5, 1.0]
    delays = stage_delays({"alerts": before}, {"alerts": after})["alerts"]
    assert delays["n"] == 10
    assert 0.5 < delays["p50"] <= delays["p99"] <= 1.0


def test_a_quantile_beyond_the_last_bound_is_that_bound_and_none_without_delays():
    delays = stage_delays({}, {"bridge": cumulative([0, 0, 0, 0, 5])})["bridge"]
    assert delays["p50"] == delays["p99"] == 1.0
    assert stage_delays({}, {"bridge": cumulative([0, 0, 0, 0, 0])})["bridge"]["p50"] is None


@given(st.lists(st.integers(min_value=0, max_value=1000), min_size=4, max_size=4).filter(any))
def test_the_quantiles_stay_within_the_buckets_and_in_order(counts):
    delays = stage_delays({}, {"stream": cumulative([*counts, 0])})["stream"]
    assert 0.0 <= delays["p50"] <= delays["p99"] <= 1.0
