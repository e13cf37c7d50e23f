"""The store writer: bad points dead-lettered, the rest stored; back-pressure honoured (FAULTS.md 6-8)."""

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from footpod.settings import Settings
from footpod.timeseries import MAX_RETRY_AFTER_S, BadPoints, StoreUnavailable, Writer, _seconds


class FakeStore:
    """Refuses any batch holding a line with `bad`; fails `outages` times first, with `retry_after`."""

    def __init__(self, tmp_path, outages: int = 0, retry_after: float | None = None):
        self.settings = Settings(data_dir=tmp_path)
        self.stored: list[str] = []
        self.attempts = 0
        self.outages, self.retry_after = outages, retry_after

    async def write(self, lines):
        self.attempts += 1
        if self.attempts <= self.outages:
            raise StoreUnavailable("HTTP 503", self.retry_after)
        if any("bad" in line for line in lines):
            raise BadPoints("field type conflict")
        self.stored.extend(lines)


async def write_all(writer: Writer, lines: list[str]) -> None:
    task = asyncio.create_task(writer.run())
    await asyncio.wait_for(writer.write(lines), 10)
    task.cancel()


def test_one_bad_point_is_dead_lettered_with_the_reason_and_the_good_points_stored(tmp_path):
    store = FakeStore(tmp_path)
    dead: list[tuple[str, str]] = []
    lines = [f"m v={i} {i}" for i in range(7)]
    lines.insert(4, 'm v="bad" 4')
    asyncio.run(write_all(Writer(store, batch_lines=8, dead_letter=lambda line, why: dead.append((line, why))), lines))
    assert sorted(store.stored) == sorted(line for line in lines if "bad" not in line)
    assert dead == [('m v="bad" 4', "field type conflict")]


def test_refused_points_go_to_the_dead_letter_file_by_default(tmp_path):
    store = FakeStore(tmp_path)
    asyncio.run(write_all(Writer(store), ['m v="bad" 1', "m v=1 2"]))
    written = (tmp_path / "deadletter" / "store.jsonl").read_text().splitlines()
    assert len(written) == 1 and '"reason": "field type conflict"' in written[0]


def test_the_writer_outlasts_more_than_five_failed_tries(tmp_path):
    store = FakeStore(tmp_path, outages=8, retry_after=0)  # influxdb-client's batching gives up after 5
    asyncio.run(write_all(Writer(store), ["m v=1 1"]))
    assert store.stored == ["m v=1 1"] and store.attempts == 9


def test_retry_after_reads_seconds_and_http_dates_and_is_bounded():
    now = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    in_90_s = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert _seconds("7") == 7.0
    assert _seconds(in_90_s, now=now.timestamp) == 90.0
    assert _seconds("-3") == 0.0
    assert _seconds("86400") == MAX_RETRY_AFTER_S
    assert _seconds("soon") is None and _seconds(None) is None
