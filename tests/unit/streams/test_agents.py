"""The stream worker's shell around the pure step, with fakes for the store and Kafka (no sockets)."""

import asyncio
import json
import re

import httpx

from footpod.contract import SampleBatch
from footpod.kafka import create_app
from footpod.records import unpack_updates
from footpod.settings import Settings
from streams import agents
from streams.agents import StreamWorker
from tests.unit.streams.stream_histories import T0, run


class FakeStore:
    """Answers InfluxQL like the store; runners listed in `down` get a connection error."""

    def __init__(self, down=(), rows=None):
        self.down = set(down)
        self.rows = rows or {}
        self.queries: list[list[str]] = []  # the runners each seed query asked for

    async def query(self, influxql: str):
        if '"final" = false' in influxql:
            return [{"runner": runner} for runner in self.rows]
        runners = re.findall(r"\"runner\" = '([^']*)'", influxql)
        self.queries.append(runners)
        if self.down & set(runners):
            raise httpx.ConnectError("store down")
        return [{**row, "runner": runner} for runner in runners for row in self.rows.get(runner, [])]


class FakeWriter:
    backlog = rejected_points = 0

    def __init__(self):
        self.lines = []

    def write(self, lines):
        self.lines.extend(lines)
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


class FakeTopic:
    """`footpod.updates`: what was sent, update by update, and each record's partition and runners."""

    def __init__(self):
        self.sent = []
        self.records: list[tuple[int, list[str]]] = []

    async def send(self, value, partition=None, key=None):
        updates = [update.model_dump(mode="json") for update in unpack_updates(value)]  # as the alert worker reads them
        self.sent.extend(updates)
        self.records.append((partition, [update["runner"] for update in updates]))


def partition_of(runner: str) -> int:
    return len(runner) % 2  # a stand-in for the producer's key hash


class Record:
    """A record of `footpod.samples` as the bridge packs it: the batches of several runners in one
    JSON array. Acknowledged, as Faust does, once every reference taken (`incref`) is acked."""

    def __init__(self, *batches):
        self.value = (
            b"["
            + b",".join(
                SampleBatch(runner=runner, received_ms=T0, samples=tuple(samples)).model_dump_json().encode()
                for runner, samples in batches
            )
            + b"]"
        )
        self.refs = 0
        self.acks = 0
        self.message = self

    def incref(self, n=1):
        self.refs += n

    def ack(self):
        self.acks += 1
        assert self.acks <= self.refs, "acknowledged more often than referenced"

    @property
    def acked(self):
        return self.refs > 0 and self.acks == self.refs


class Event(Record):
    """A record holding one runner's batch as an object, as written before batches were packed."""

    def __init__(self, runner, samples):
        super().__init__()
        self.value = SampleBatch(runner=runner, received_ms=T0, samples=tuple(samples)).model_dump_json().encode()


def worker(store, **settings_values):
    settings = Settings(_env_file=None, **settings_values)
    stream = StreamWorker(create_app(settings, "footpod-stream"), settings)
    stream.api, stream.writer, stream.updates_topic = store, FakeWriter(), FakeTopic()
    stream._partition_of = partition_of
    stream.ready.set()
    return stream


def test_new_runners_are_seeded_a_hundred_a_query_each_with_its_own_runs():
    async def scenario():
        first = worker(FakeStore())
        await first.take_batch([Event("gina", run(T0, 300, device="gina-pod"))])
        field = re.search(r'segments="((?:[^"\\]|\\.)*)"', [x for x in first.writer.lines if x.startswith("run,")][-1])
        rows = {"gina": [{"device": "gina-pod", "segments": re.sub(r"\\(.)", r"\1", field.group(1))}]}
        store = FakeStore(rows=rows)
        stream = worker(store)
        names = [f"r{i:03}" for i in range(249)] + ["gina"]
        records = [
            Record(*((name, run(T0 + 10 * 86_400_000, 30, device=f"{name}-pod")) for name in names[i : i + 50]))
            for i in range(0, 250, 50)
        ]
        await stream.take_batch(records)
        assert sorted(len(q) for q in store.queries) == [50, 100, 100]  # every runner once, 100 a query
        assert set(stream.states) == set(names)
        assert stream.states["gina"].devices["gina-pod"][0].start_ms == T0  # its stored run, read back
        assert all(set(stream.states[name].devices) == {f"{name}-pod"} for name in names[:249])

    asyncio.run(scenario())


def test_a_runner_whose_runs_cannot_be_read_waits_alone():
    async def scenario():
        stream = worker(FakeStore(down={"bob"}))
        alice, bob = Event("alice", run(T0, 300)), Event("bob", run(T0, 300, device="bob-pod"))
        await stream.take_batch([alice, bob])
        await asyncio.sleep(0)  # acknowledgements run once the store has the points
        assert alice.acked and not bob.acked
        assert [u["runner"] for u in stream.updates_topic.sent] == ["alice"]
        stream.api.down.clear()  # the store is back
        await stream.retry_waiting()
        await asyncio.sleep(0)
        assert bob.acked and [u["runner"] for u in stream.updates_topic.sent] == ["alice", "bob"]

    asyncio.run(scenario())


def test_a_record_of_several_runners_is_acknowledged_once_each_of_them_is_counted():
    async def scenario():
        stream = worker(FakeStore(down={"bob"}))
        both = Record(("alice", run(T0, 300)), ("bob", run(T0, 300, device="bob-pod")))
        alone = Record(("alice", run(T0 + 400_000, 60)))
        await stream.take_batch([both, alone])
        await asyncio.sleep(0)
        assert alone.acked and not both.acked  # bob's share waits for the store
        assert [u["runner"] for u in stream.updates_topic.sent] == ["alice"]
        (update,) = stream.updates_topic.sent  # alice's shares of both records, counted in one step
        assert [touched["run"]["samples"] for touched in update["touched"]] == [301 + 61]
        stream.api.down.clear()
        await stream.retry_waiting()
        await asyncio.sleep(0)
        assert both.acked and [u["runner"] for u in stream.updates_topic.sent] == ["alice", "bob"]

    asyncio.run(scenario())


def test_a_run_left_open_by_a_stop_is_judged_after_the_restart():
    async def scenario():
        first = worker(FakeStore())
        await first.take_batch([Event("gina", run(T0, 300, device="gina-pod"))])
        stored = [line for line in first.writer.lines if line.startswith("run,")]
        field = re.search(r'segments="((?:[^"\\]|\\.)*)"', stored[-1]).group(1)
        segments = json.loads(re.sub(r"\\(.)", r"\1", field))
        rows = {"gina": [{"device": "gina-pod", "segments": json.dumps(segments)}]}
        restarted = worker(FakeStore(rows=rows), run_settle_s=0)  # its last samples arrived long enough ago
        await restarted._load_open("gina")
        assert "gina" in restarted.open_runners
        await restarted.conclude_whole_runs()  # the wall clock is days after T0: the run is over
        (verdict,) = restarted.updates_topic.sent
        assert verdict["latest"]["final"] and not verdict["latest"]["live"]
        assert verdict["recent_kind"] == "window"  # its first update since the seed
        assert abs(verdict["latest"]["run"]["km"] - 0.9) < 1e-9 and "gina" not in restarted.open_runners

    asyncio.run(scenario())


class HeldWriter(FakeWriter):
    """A store that has not taken anything yet: each write's future is done only on `store_all`."""

    def __init__(self):
        super().__init__()
        self.writes = []

    def write(self, lines):
        self.lines.extend(lines)
        future = asyncio.get_running_loop().create_future()
        self.writes.append((list(lines), future))
        return future

    def store_all(self):
        for _, future in self.writes:
            if not future.done():
                future.set_result(None)


def test_a_batch_of_several_runners_is_one_store_write_acknowledged_only_once_stored():
    async def scenario():
        stream = worker(FakeStore())
        stream.writer = HeldWriter()
        events = [Event(name, run(T0, 60, device=f"{name}-pod")) for name in ("ann", "ben", "cai")]
        await stream.take_batch(events)
        await asyncio.sleep(0)
        assert len(stream.writer.writes) == 1
        ((lines, _),) = stream.writer.writes
        assert sorted(re.search(r"runner=(\w+)", line).group(1) for line in lines if line.startswith("run,")) == [
            "ann",
            "ben",
            "cai",
        ]
        assert not any(event.acked for event in events)  # no early commit: the store has nothing yet
        stream.writer.store_all()
        await asyncio.sleep(0)
        assert all(event.acked for event in events)

    asyncio.run(scenario())


def test_a_batch_sends_its_updates_as_one_record_per_partition_of_its_runners():
    async def scenario():
        stream = worker(FakeStore())
        names = ("ann", "ben", "cai", "dora", "eli", "fay")
        await stream.take_batch([Event(name, run(T0, 60, device=f"{name}-pod")) for name in names])
        records = stream.updates_topic.records
        assert sorted(partition for partition, _ in records) == sorted({partition_of(name) for name in names})
        assert all(partition_of(runner) == partition for partition, runners in records for runner in runners)
        assert sorted(runner for _, runners in records for runner in runners) == sorted(names)

    asyncio.run(scenario())


def test_an_open_runs_point_is_written_every_few_seconds_and_its_samples_acknowledged_only_then(monkeypatch):
    """At 1 Hz a runner's `run` point is written at the first sample, then once per
    `OPEN_RUN_POINT_EVERY_S`; the samples in between stay unacknowledged until a point holds them."""
    clock = [T0 / 1000]
    monkeypatch.setattr(agents.time, "time", lambda: clock[0])

    def run_points(lines):
        return [line for line in lines if line.startswith("run,")]

    async def scenario():
        stream = worker(FakeStore())
        stream.writer = HeldWriter()
        records = []
        for second in range(12):  # one sample a second, each in its own record, as live runners send
            clock[0] = T0 / 1000 + second + 0.2
            records.append(Event("ann", run(T0 + second * 1000, 0, start_m=3.0 * second)))
            await stream.take_batch([records[-1]])
            if second % 3 == 2:
                await stream.conclude_whole_runs()  # the once-a-second timer, now and then
        written = [run_points(lines) for lines, _ in stream.writer.writes]
        stream.writer.store_all()
        await asyncio.sleep(0)
        every = int(agents.OPEN_RUN_POINT_EVERY_S)
        assert sum(map(len, written)) == len(range(0, 12, every))  # at 0 s, then every 5 s (5, 10)
        last = re.search(r"samples=(\d+)i", [point for points in written for point in points][-1]).group(1)
        assert int(last) == 2 * every + 1  # the last point holds every sample up to it
        assert [record.acked for record in records] == [True] * (2 * every + 1) + [False] * (11 - 2 * every)

    asyncio.run(scenario())


def test_a_rebalance_or_a_stop_lets_the_held_samples_go_once_their_point_is_stored(monkeypatch):
    """Faust waits for every record taken to be acknowledged before a rebalance goes on or it stops,
    and its timers do not run then: the held samples' points are written at once."""
    clock = [T0 / 1000]
    monkeypatch.setattr(agents.time, "time", lambda: clock[0])

    async def scenario():
        stream = worker(FakeStore())
        stream.register()  # agents, timers and the app's hook, as the worker starts
        stream.writer = HeldWriter()
        records = []
        for second in range(3):
            clock[0] = T0 / 1000 + second
            records.append(Event("ann", run(T0 + second * 1000, 0, start_m=3.0 * second)))
            await stream.take_batch([records[-1]])
        stream.writer.store_all()
        await asyncio.sleep(0)
        assert [record.acked for record in records] == [True, False, False]  # seconds 1, 2 held
        stream.app.release_held()  # as Faust's rebalance or stop calls it
        (lines, _) = stream.writer.writes[-1]
        assert [re.search(r"samples=(\d+)i", line).group(1) for line in lines if line.startswith("run,")] == ["3"]
        clock[0] += 1
        records.append(Event("ann", run(T0 + 3000, 0, start_m=9.0)))
        await stream.take_batch([records[-1]])  # a batch still under way: not held either
        stream.writer.store_all()
        await asyncio.sleep(0)
        assert all(record.acked for record in records)
        await stream.forget_states(set())  # partitions assigned again: points on their pace again
        assert not stream.releasing

    asyncio.run(scenario())


def test_a_runners_first_update_after_a_seed_carries_the_whole_window_the_next_only_what_changed():
    async def scenario():
        stream = worker(FakeStore())
        for second in range(4):
            if second == 2:
                await stream.forget_states(set())  # a rebalance: seeded again, from the store
            sample = run(T0 + second * 1000, 0, device="hana-pod", start_m=3.0 * second)
            await stream.take_batch([Event("hana", sample)])
        kinds = [update["recent_kind"] for update in stream.updates_topic.sent]
        assert kinds == ["window", "delta", "window", "delta"]
        assert [len(update["recent"]) for update in stream.updates_topic.sent[2:]] == [1, 1]

    asyncio.run(scenario())


def test_every_few_minutes_a_runner_under_way_is_sent_the_whole_window_again():
    async def scenario():
        stream = worker(FakeStore())
        for second in range(5):
            if second == 3:
                await stream.windows_due()  # the timer (`WINDOW_EVERY_S`)
            sample = run(T0 + second * 1000, 0, device="hana-pod", start_m=3.0 * second)
            await stream.take_batch([Event("hana", sample)])
        return [update["recent_kind"] for update in stream.updates_topic.sent]

    assert asyncio.run(scenario()) == ["window", "delta", "delta", "window", "delta"]
