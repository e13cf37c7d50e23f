"""The alert worker reads runners it sees for the first time back from the store together: one query
per kind for a batch of updates, one read per runner however many first sights of it come at once,
and a store that does not answer is asked again, never taken as an empty history (no sockets)."""

import asyncio

from footpod import schema
from footpod.errors import StoreReadError
from tests.unit.alerts.test_arrival_order import run, update_for
from tests.unit.alerts.test_worker_acks import Record, Stream, worker


class CountingStore:
    """A store that counts its queries; it knows one published alert of each runner it is asked about,
    and does not answer the first `failures` queries."""

    def __init__(self, failures: int = 0):
        self.asked: list[str] = []
        self.failures = failures

    async def query(self, influxql: str):
        self.asked.append(influxql)
        await asyncio.sleep(0)  # an answer takes a round trip: other first sights come meanwhile
        if self.failures:
            self.failures -= 1
            raise StoreReadError("store down")
        if not influxql.startswith('SELECT "id"'):
            return []
        runners = [part.split("'")[1] for part in influxql.split('"runner" = ')[1:]]
        return [{"runner": runner, "id": f"{runner}-old"} for runner in runners]


def update_of(runner: str) -> bytes:
    first = run(0)
    return update_for([first], first).model_copy(update={"runner": runner}).model_dump_json().encode()


def test_a_batch_of_updates_reads_its_unseen_runners_back_with_one_query_of_each_kind(tmp_path):
    async def scenario():
        alerts = worker(tmp_path)
        alerts.api = store = CountingStore()
        runners = [f"runner.{n}" for n in range(7)]
        records = [Record(update_of(runner)) for runner in runners + runners[:3]]  # some twice
        await alerts.consume_updates(Stream(records))
        assert len(store.asked) == 3  # alerts, runs, reports: one query each for seven runners
        assert {runner: alerts.memory[runner].published >= {f"{runner}-old"} for runner in runners} == dict.fromkeys(
            runners, True
        )

    asyncio.run(scenario())


def test_more_runners_than_a_query_holds_are_read_back_a_chunk_a_query(tmp_path, monkeypatch):
    monkeypatch.setattr(schema, "READ_BACK_CHUNK", 3)

    async def scenario():
        alerts = worker(tmp_path)
        alerts.api = store = CountingStore()
        runners = [f"r{n}" for n in range(7)]
        await alerts.consume_updates(Stream([Record(update_of(runner)) for runner in runners]))
        assert len(store.asked) == 3 * 3  # three chunks (3 + 3 + 1 runners), three kinds each
        assert set(alerts.memory) == set(runners)

    asyncio.run(scenario())


def test_concurrent_first_sights_of_a_runner_read_it_back_once(tmp_path):
    async def scenario():
        alerts = worker(tmp_path)
        alerts.api = store = CountingStore()

        async def first_sight():
            async with alerts._lock:
                return await alerts._memory_of("ana")

        reads = [alerts._read_histories(["ana", "bo"]), alerts._read_histories(["ana"]), first_sight()]
        *_, memory = await asyncio.gather(*reads)
        assert len(store.asked) == 3  # one read of each kind, for ana and bo together
        assert memory is alerts.memory["ana"] and memory.published == {"ana-old"}
        async with alerts._lock:
            assert (await alerts._memory_of("bo")).published == {"bo-old"}
        assert len(store.asked) == 3

    asyncio.run(scenario())


def test_a_read_back_the_store_does_not_answer_is_retried_not_taken_as_empty(tmp_path):
    async def scenario():
        alerts = worker(tmp_path)
        alerts.api = store = CountingStore(failures=1)
        await alerts.consume_updates(Stream([Record(update_of("ana"))]))
        assert len(store.asked) == 6  # three, one of which failed; then three again
        assert "ana-old" in alerts.memory["ana"].published  # the published alert was read, not forgotten

    asyncio.run(scenario())
