"""A worker's Kafka consumer at rest fetches less and less often, up to the wait at rest, and a
record that comes is still read within that wait, the next fetch short again (`footpod.kafka.
adapt_fetch_wait`), on the session's Tansu."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from footpod.kafka import adapt_fetch_wait
from tests.integration.stack import Stack

BUSY_MS, AT_REST_MS = 20, 100


async def fetches_at_rest(bootstrap: str, topic: str, adapt: bool, seconds: float) -> tuple[AIOKafkaConsumer, list]:
    """A started consumer of `topic` and the fetch waits it asked for while `seconds` passed (the list
    grows as it fetches)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"{topic}-{adapt}",
        auto_offset_reset="earliest",
        fetch_max_wait_ms=BUSY_MS,
    )
    if adapt:
        adapt_fetch_wait(consumer, BUSY_MS, AT_REST_MS)
    await consumer.start()
    fetcher, waits = consumer._fetcher, []
    fetch = fetcher._proc_fetch_request

    async def counted(assignment, node_id, request):
        waits.append(request._max_wait_ms)
        return await fetch(assignment, node_id, request)

    fetcher._proc_fetch_request = counted
    draining = asyncio.ensure_future(drain(consumer, 3.5 + seconds))  # a fetcher holding unread records waits
    await asyncio.sleep(2.5)  # assigned, and at rest (`AT_REST_AFTER_MS`)
    waits.clear()
    await asyncio.sleep(seconds)
    await draining
    return consumer, waits


async def new_topic(bootstrap: str, prefix: str) -> str:
    """A topic of one partition, made for one test."""
    topic = f"{prefix}-{time.time_ns()}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    return topic


async def drain(consumer: AIOKafkaConsumer, seconds: float) -> None:
    """Read whatever comes for `seconds`, as a worker does."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        await consumer.getmany(timeout_ms=50)


def test_a_consumer_at_rest_fetches_a_third_as_often_and_reads_a_new_record_within_its_wait(stack: Stack):
    async def scenario():
        topic = await new_topic(stack.kafka_bootstrap, "fetch-wait")
        plain, plain_waits = await fetches_at_rest(stack.kafka_bootstrap, topic, adapt=False, seconds=2.0)
        await plain.stop()
        plain_count = len(plain_waits)
        consumer, waits = await fetches_at_rest(stack.kafka_bootstrap, topic, adapt=True, seconds=2.0)
        rest_count, rest_waits = len(waits), list(waits)
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
        await producer.start()
        try:
            sent = time.monotonic()
            await producer.send_and_wait(topic, b"a sample")
            got = await consumer.getmany(timeout_ms=5_000)
            took = time.monotonic() - sent
            records = [record.value for batch in got.values() for record in batch]
            await asyncio.sleep(0.05)  # the fetch after the one that brought it
            after = consumer._fetcher._fetch_max_wait_ms
        finally:
            await producer.stop()
            await consumer.stop()
        return plain_count, rest_count, rest_waits, records, took, after

    plain_count, rest_count, rest_waits, records, took, after = asyncio.run(scenario())
    assert plain_count >= 2.0 / (BUSY_MS / 1000) * 0.5  # about one fetch per 20 ms wait
    assert rest_count * 3 <= plain_count  # at rest: one per 100 ms
    assert set(rest_waits[2:]) == {AT_REST_MS}
    assert records == [b"a sample"]
    assert took < AT_REST_MS / 1000 + 0.5
    assert after == BUSY_MS  # the fetch that brought it set it back


def test_records_coming_more_often_than_the_rest_threshold_keep_the_short_wait(stack: Stack):
    async def scenario():
        topic = await new_topic(stack.kafka_bootstrap, "fetch-wait-busy")
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
        await producer.start()
        stop = asyncio.Event()

        async def trickle():  # a record every 200 ms: a small club's live samples
            while not stop.is_set():
                await producer.send_and_wait(topic, b"x")
                await asyncio.sleep(0.2)

        feeding = asyncio.ensure_future(trickle())
        try:
            consumer, waits = await fetches_at_rest(stack.kafka_bootstrap, topic, adapt=True, seconds=2.0)
            await consumer.stop()
        finally:
            stop.set()
            await feeding
            await producer.stop()
        return waits

    waits = asyncio.run(scenario())  # about ten 200 ms gaps, each ten fetches of 20 ms
    assert waits and set(waits) == {BUSY_MS}
