"""The alert worker's shell acknowledges a Kafka record only once the store has the points the record
caused (FAULTS.md row 6), with fakes for the store, the writer, MQTT and the Kafka stream (no sockets)."""

import asyncio
import time

from alerts.worker import AlertWorker
from footpod.contract import PainEvent, PainReport
from footpod.kafka import create_app
from footpod.records import RunSummary
from footpod.settings import Settings
from tests.unit.alerts.test_arrival_order import T0, run, update_for


class FakeStore:
    """A store that knows nothing yet: every read-back is empty."""

    async def query(self, influxql: str):
        return []


class HeldWriter:
    """A store that is down: writes wait until `store_all` says the store took them."""

    backlog = rejected_points = 0

    def __init__(self):
        self.held: list[tuple[list[str], asyncio.Future]] = []

    def write(self, lines):
        future = asyncio.get_running_loop().create_future()
        if lines:
            self.held.append((list(lines), future))
        else:
            future.set_result(None)
        return future

    def store_all(self) -> list[str]:
        stored = []
        for lines, future in self.held:
            stored.extend(lines)
            future.set_result(None)
        self.held.clear()
        return stored


class FakePublisher:
    def __init__(self):
        self.sent: list[str] = []

    async def publish(self, topic, payload, retain=False):
        self.sent.append(topic)


class Record:
    """A Kafka record as Faust's `stream.events()` yields it; acknowledged once its references are gone."""

    def __init__(self, value: bytes):
        self.value, self.message, self.refs, self.acks = value, self, 1, 0

    def incref(self):
        self.refs += 1

    def ack(self):
        self.acks += 1

    @property
    def acked(self) -> bool:
        return self.acks >= self.refs


class Stream:
    """Yields its records, and acknowledges each once the loop moves on, as Faust does."""

    def __init__(self, records):
        self.records = records

    async def events(self):
        for record in self.records:
            yield record
            record.ack()

    async def take_events(self, max_, within):
        for start in range(0, len(self.records), max_):
            batch = self.records[start : start + max_]
            yield batch
            for record in batch:
                record.ack()


def worker(tmp_path) -> AlertWorker:
    settings = Settings(_env_file=None, data_dir=tmp_path, pain_settle_s=0, pain_settle_max_s=0)
    alerts = AlertWorker(create_app(settings, "footpod-alerts"), settings)
    alerts.api, alerts.writer, alerts.publisher = FakeStore(), HeldWriter(), FakePublisher()
    alerts.notifier.offer = lambda alert: 0
    alerts.ready.set()
    return alerts


def test_an_update_is_acknowledged_only_once_the_store_has_its_load_point(tmp_path):
    async def scenario():
        alerts = worker(tmp_path)
        first = run(0)
        record = Record(update_for([first], first).model_dump_json().encode())
        await alerts.consume_updates(Stream([record]))
        assert "status/ana" in alerts.publisher.sent  # the status went out while the store was down
        assert not record.acked
        stored = alerts.writer.store_all()
        await asyncio.sleep(0)
        assert any(line.startswith("load,") for line in stored)
        assert record.acked

    asyncio.run(scenario())


def test_an_update_that_causes_no_point_is_acknowledged_at_once(tmp_path):
    async def scenario():
        alerts = worker(tmp_path)
        now = int(time.time() * 1000)
        today = RunSummary(
            run_id="today",
            device_id="pod-1",
            start_ms=now - 600_000,
            end_ms=now,
            km=2.0,
            samples=600,
            cadence_spm=172.0,
        )  # a run under way today reaches no past midnight
        live = update_for([today], today)
        live = live.model_copy(update={"touched": tuple(e.model_copy(update={"live": True}) for e in live.touched)})
        record = Record(live.model_dump_json().encode())
        await alerts.consume_updates(Stream([record]))
        await asyncio.sleep(0)
        assert alerts.writer.held == [] and record.acked

    asyncio.run(scenario())


def test_a_pain_report_is_acknowledged_only_once_the_store_has_its_pain_point(tmp_path):
    async def scenario():
        alerts = worker(tmp_path)
        report = PainReport(ts=T0 + 7_200_000, score=5, timing="after")
        record = Record(PainEvent(runner="ana", received_ms=T0, report=report).model_dump_json().encode())
        await alerts.consume_pain(Stream([record]))
        await asyncio.gather(*alerts._settling)  # decided (the settle wait is 0 here)
        assert alerts.writer.held and not record.acked
        stored = alerts.writer.store_all()
        await asyncio.sleep(0)
        assert any(line.startswith("pain,") for line in stored)
        assert record.acked

    asyncio.run(scenario())


def test_a_redelivered_pain_report_is_acknowledged_without_a_second_point(tmp_path):
    async def scenario():
        alerts = worker(tmp_path)
        report = PainReport(ts=T0 + 7_200_000, score=2, timing="after")
        value = PainEvent(runner="ana", received_ms=T0, report=report).model_dump_json().encode()
        first, again = Record(value), Record(value)
        await alerts.consume_pain(Stream([first]))
        await asyncio.gather(*alerts._settling)
        alerts.writer.store_all()
        await alerts.consume_pain(Stream([again]))
        await asyncio.gather(*alerts._settling)
        await asyncio.sleep(0)
        assert alerts.writer.held == [] and first.acked and again.acked

    asyncio.run(scenario())
