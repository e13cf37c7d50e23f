"""Kafka for every stage: topic names, their creation, and the Faust app the workers are built on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner

from footpod.settings import Settings

if TYPE_CHECKING:
    import faust
    from aiokafka import AIOKafkaConsumer

SAMPLES = "footpod.samples"
PAIN = "footpod.pain"
DEADLETTER = "footpod.deadletter"  # CONTRACT.md, "Bad input"
UPDATES = "footpod.updates"  # stream -> alert worker: runs and load
ALL_TOPICS = (SAMPLES, PAIN, DEADLETTER, UPDATES)
# A fetch answered at once with whatever is there (aiokafka's default, 1 byte) makes a consumer under a
# steady trickle of live records fetch again and again, a record or two each time: at 500 live runners
# Tansu spent over half a core answering those fetches. Asking for this much lets the broker hold a fetch
# until that much is there or the fetch wait is up, so a consumer fetches at most once a wait when
# records trickle, and at once when they pour (a sync).
FETCH_MIN_BYTES = 64 * 1024
AT_REST_AFTER_MS = 500  # a consumer whose fetches brought nothing for this long is at rest (`adapt_fetch_wait`)

log = logging.getLogger(__name__)


async def ensure_topics(bootstrap: str, partitions: int, timeout_s: float = 60.0) -> None:
    """Create the pipeline's topics if missing, waiting for the broker to answer."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [NewTopic(name, partitions, 1) for name in ALL_TOPICS if name not in existing]
            if missing:
                try:
                    await admin.create_topics(missing)
                except TopicAlreadyExistsError:
                    pass
            return
        except (KafkaError, OSError) as error:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.warning("Kafka at %s not ready (%s); retrying", bootstrap, error)
            await asyncio.sleep(1.0)
        finally:
            await admin.close()


async def key_partitioner(app: faust.App, topic: str) -> Callable[[str], int]:
    """Where a record keyed by a runner's name goes on `topic`: the partition `app`'s producer would
    pick for that key (aiokafka's partitioner over the partitions the broker reports), so records
    sent to a partition explicitly land where keyed ones would. Waits for the topic's metadata."""
    await app.producer._ensure_producer().partitions_for(topic)  # loads the topic's partitions once
    return lambda runner: app.producer.key_partition(topic, runner.encode()).partition


async def producer_partitioner(producer, topic: str) -> Callable[[str], int]:
    """Where a record keyed by a runner's name goes on `topic`, for an aiokafka producer: its default
    partitioner (murmur2 of the key, as Kafka's own clients) over the partitions the broker reports,
    so records sent to a partition explicitly land where keyed ones did and would."""
    partitions = sorted(await producer.partitions_for(topic))
    partitioner = DefaultPartitioner()
    return lambda runner: partitioner(runner.encode(), partitions, partitions)


def create_app(settings: Settings, app_id: str) -> faust.App:
    """A Faust app on the configured brokers: raw bytes in and out, no web server, memory tables;
    its consumer's fetches wait at most `settings.kafka_fetch_wait_ms` at the broker (`_app_class`)."""
    return _app_class(settings.kafka_fetch_wait_ms, settings.kafka_fetch_wait_at_rest_ms)(
        app_id,
        broker=[f"kafka://{host}" for host in settings.kafka_bootstrap.split(",")],
        store="memory://",
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.kafka_partitions,
        consumer_auto_offset_reset="earliest",
        # Short timeouts let a restarted worker rejoin its group in seconds (~3 s on Tansu).
        broker_session_timeout=6.0,
        broker_rebalance_timeout=6.0,
        broker_heartbeat_interval=1.0,
    )


def adapt_fetch_wait(consumer: AIOKafkaConsumer, busy_ms: int, at_rest_ms: int) -> None:
    """Make `consumer`'s fetches wait `busy_ms` at the broker while records come, and once none has come
    for `AT_REST_AFTER_MS`, each fetch that brings none twice as long as the one before, up to
    `at_rest_ms`.

    Tansu answers a waiting fetch only when its wait is up, so a worker fetched 50 times a second at
    rest, and each fetch cost Tansu more the more records it held: the stack idle took about a third
    of two cores. Records coming at least every `AT_REST_AFTER_MS` (live runners) keep the short wait;
    a record arriving at rest waits at most `at_rest_ms` more at each hop, and the next fetch waits
    `busy_ms` again. aiokafka reads the wait from its fetcher at every fetch request
    (`Fetcher._fetch_max_wait_ms`); the fetcher is made when the consumer starts."""
    if at_rest_ms <= busy_ms:
        return
    start = consumer.start

    async def started() -> None:
        await start()
        fetcher = consumer._fetcher
        fetch = fetcher._proc_fetch_request
        empty = [0]  # fetches in a row that brought nothing

        async def fetched(assignment, node_id, request) -> bool:
            brought = await fetch(assignment, node_id, request)  # True when records (or an error) came
            if brought:
                empty[0] = 0
                fetcher._fetch_max_wait_ms = busy_ms
            else:
                empty[0] += 1
                if empty[0] * max(busy_ms, 1) >= AT_REST_AFTER_MS:
                    fetcher._fetch_max_wait_ms = min(at_rest_ms, max(fetcher._fetch_max_wait_ms, 1) * 2)
            return brought

        fetcher._proc_fetch_request = fetched

    consumer.start = started


def _app_class(fetch_wait_ms: int, at_rest_ms: int) -> type[faust.App]:
    """`faust.App` with its Kafka consumer's `fetch_max_wait_ms` set (Faust fixes it at 1,500 ms), longer
    at rest (`adapt_fetch_wait`), and `fetch_min_bytes` (`FETCH_MIN_BYTES`).

    A fetch with nothing to read waits at the broker up to that long; Tansu answers it only when
    the wait is up, not when records arrive, so a live sample waited ~0.4 s on average and up to
    0.75 s at each of its two Kafka hops (to the stream, to the alert worker). Apache Kafka answers at once either way;
    a short wait costs it an empty fetch per wait."""
    import faust  # the bridge uses this module for topic names only
    from faust.transport.drivers import aiokafka as driver

    class ConsumerThread(driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport):
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = fetch_wait_ms  # read by AIOKafkaConsumer.start(), not before
            consumer._fetch_min_bytes = FETCH_MIN_BYTES
            adapt_fetch_wait(consumer, fetch_wait_ms, at_rest_ms)
            return consumer

    class FetchingConsumer(driver.Consumer):
        def _new_consumer_thread(self):
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    class Transport(driver.Transport):
        Consumer = FetchingConsumer

    class App(faust.App):
        # A worker that holds records unacknowledged for a while (the stream, `_pointed`) lets them go
        # here: Faust waits for every record taken to be acknowledged before a rebalance goes on and
        # before it stops, and its timers do not run then.
        release_held: Callable[[], None] | None = None

        def _new_transport(self):
            return Transport(self.conf.broker_consumer, self)

        def on_rebalance_start(self) -> None:
            super().on_rebalance_start()  # called on the consumer's thread
            if self.release_held is not None:
                self.loop.call_soon_threadsafe(self.release_held)

        async def on_stop(self) -> None:
            if self.release_held is not None:
                self.release_held()
            await super().on_stop()

    return App
