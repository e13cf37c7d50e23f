"""The metrics kernel: /healthz answers, dead-letter labels, and the store writer's counters."""

import asyncio
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from footpod import metrics
from footpod.timeseries import BadPoints, StoreUnavailable, Writer


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_healthz_is_200_when_ready_and_503_with_the_reason_otherwise():
    assert metrics.health_answer(lambda: (True, "connected")) == (200, b'{"status": "ok", "reason": "connected"}')
    status, body = metrics.health_answer(lambda: (False, "MQTT broker not connected"))
    assert status == 503 and json.loads(body) == {"status": "unavailable", "reason": "MQTT broker not connected"}


def test_a_health_check_that_raises_is_503_naming_the_error():
    def broken():
        raise RuntimeError("no consumer")

    status, body = metrics.health_answer(broken)
    assert status == 503 and "RuntimeError: no consumer" in json.loads(body)["reason"]


def test_a_dead_letter_reason_is_labelled_by_its_kind_not_its_detail():
    assert metrics.dead_letter_reason("not JSON: Expecting value: line 1 column 1") == "not JSON"
    assert metrics.dead_letter_reason("") == "unknown"
    assert len(metrics.dead_letter_reason("x" * 500)) == 60


def test_every_metric_name_is_defined_once_with_the_footpod_prefix():
    names = [m.describe()[0].name for m in vars(metrics).values() if hasattr(m, "describe") and hasattr(m, "_name")]
    assert names and len(names) == len(set(names))
    assert all(name.startswith("footpod_") for name in names)


class FlakyStore:
    """Refuses line 'bad' as a bad point; is unavailable for the first `down` writes."""

    def __init__(self, down: int):
        self.down, self.lines = down, []

    async def write(self, lines):
        if self.down:
            self.down -= 1
            raise StoreUnavailable("HTTP 503", retry_after=0.0)
        if "bad" in lines:
            raise BadPoints("field type conflict")
        self.lines.extend(lines)


def test_the_writer_counts_points_written_refused_and_failed_writes_and_empties_its_backlog():
    stage = "unit-writer"
    before = {
        name: value(name, stage=stage)
        for name in (
            "footpod_store_points_written_total",
            "footpod_store_points_refused_total",
            "footpod_store_write_errors_total",
        )
    }

    async def scenario():
        writer = Writer(FlakyStore(down=2), stage=stage, dead_letter=lambda line, why: None)
        task = asyncio.create_task(writer.run())
        done = writer.write(["a", "bad", "c"])
        assert value("footpod_store_backlog_points", stage=stage) == 3
        await done
        task.cancel()
        return writer

    writer = asyncio.run(scenario())
    assert writer.api.lines == ["a", "c"]
    assert value("footpod_store_points_written_total", stage=stage) - before["footpod_store_points_written_total"] == 2
    assert value("footpod_store_points_refused_total", stage=stage) - before["footpod_store_points_refused_total"] == 1
    assert value("footpod_store_write_errors_total", stage=stage) - before["footpod_store_write_errors_total"] == 2
    assert value("footpod_store_backlog_points", stage=stage) == 0
    assert writer.unavailable is None  # the store took the last write


def _histogram():
    from prometheus_client import CollectorRegistry, Histogram

    registry = CollectorRegistry()
    histogram = Histogram("live_delay_seconds", "a stage's live delay", registry=registry, buckets=(0.1, 1.0, 60.0))
    return registry, histogram


@given(st.lists(st.integers(min_value=-200_000, max_value=200_000), max_size=30))
def test_only_samples_within_a_minute_either_side_of_now_are_observed_as_live(offsets_ms):
    registry, histogram = _histogram()
    now_ms = 1_790_000_000_000
    observed = metrics.observe_live(histogram, now_ms, (now_ms - offset for offset in offsets_ms))
    live = [offset for offset in offsets_ms if -60_000 <= offset <= 60_000]
    assert observed == len(live)
    assert registry.get_sample_value("live_delay_seconds_count") == len(live)
    # ahead of now (a device's clock) counts as no delay
    assert registry.get_sample_value("live_delay_seconds_sum") == pytest.approx(sum(max(o, 0) for o in live) / 1000)


def test_a_live_delay_lands_in_the_bucket_of_its_seconds():
    registry, histogram = _histogram()
    metrics.observe_live(histogram, 10_000, [9_950, 9_500, 9_500, 2_000])  # 0.05 s, 0.5 s twice, 8 s
    bucket = lambda le: registry.get_sample_value("live_delay_seconds_bucket", {"le": le})  # noqa: E731
    assert (bucket("0.1"), bucket("1.0"), bucket("60.0")) == (1, 3, 4)
