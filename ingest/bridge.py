"""MQTT -> Kafka bridge: a paho client feeding an asyncio hand-off to Kafka.

An MQTT message is acknowledged (paho manual ack) only after Kafka has acknowledged every
record made from it, so a slow or absent Kafka holds messages in the broker instead of
losing them. The broker bounds how many un-acknowledged messages reach us (its in-flight
window), which also bounds our memory.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec
import paho.mqtt.client as mqtt
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from footpod import kafka, metrics
from footpod.contract import SampleBatch
from footpod.mqtt import mqtt_client, service_client_id
from footpod.records import SampleBatchRecord, pack_json
from footpod.settings import Settings
from ingest.validate import Verdict, judge

log = logging.getLogger("footpod.bridge")
SUBSCRIPTIONS = [("footpod/+/samples", 1), ("footpod/+/pain", 1)]
# Apache Kafka refuses records over message.max.bytes (1,048,588 by default) and the producer
# would retry such a record forever: records are cut well below it, by bytes.
MAX_RECORD_BYTES = 512 * 1024
MAX_BATCH_BYTES = 512 * 1024  # below the broker's message.max.bytes (1,048,588) with room for overhead
# a batch is cut at this many payload bytes (about 20 synced messages), so the first records
# reach Kafka while later messages are still being judged, not after a whole in-flight window
BATCH_BYTES = 1_048_576
HANDOFFS_IN_FLIGHT = 4  # batches waiting for Kafka's acknowledgement while the next is judged
# A hand-off not full yet waits this long for more messages: live runners send one sample a message,
# and without it every burst of a few messages made its own Kafka request and a record per partition
# (a record per sample at 1,000 live runners), each costing the bridge, Kafka and the stream. A sync
# fills a hand-off by bytes at once and does not wait.
HANDOFF_LINGER_S = 0.05
READ_PER_PASS = 256  # MQTT packets read at most at each pass of paho's loop (`DrainingClient`)
READ_PAUSE_S = 0.005  # after a pass that read messages, paho's thread waits this long for more (`DrainingClient`)


@dataclass(frozen=True)
class Delivery:
    mid: int
    qos: int
    topic: str
    payload: bytes
    received_ms: int


class Inbox:
    """Deliveries handed from paho's thread to the event loop. The loop is woken only when it waits
    for a first delivery (`wait`), not while a hand-off lingers (`HANDOFF_LINGER_S`) or is judged:
    live runners send one sample a message, thousands a second, and a wake-up per message (a write to
    the loop's self-pipe, a pass of its selector) cost the bridge a sixth of its CPU."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._arrived: collections.deque[Delivery] = collections.deque()
        self._waiter: asyncio.Future | None = None  # the loop's, while it waits for a first delivery
        self._lock = threading.Lock()  # the waiter is taken once, by `put` or by `wait` itself

    def put(self, delivery: Delivery) -> None:
        """From paho's thread."""
        self._arrived.append(delivery)
        if self._waiter is not None:  # read unlocked: `wait` looks at the deliveries after setting it
            with self._lock:
                waiter, self._waiter = self._waiter, None
            if waiter is not None:
                self._loop.call_soon_threadsafe(_wake, waiter)

    async def wait(self) -> None:
        """Until a delivery is here."""
        while not self._arrived:
            waiter = asyncio.get_running_loop().create_future()
            with self._lock:
                self._waiter = waiter
            if self._arrived:  # came in before `put` could see the waiter
                with self._lock:
                    if self._waiter is waiter:
                        self._waiter = None
                return
            await waiter

    def take(self, deliveries: list[Delivery], size: int, most: int, most_bytes: int) -> int:
        """Move deliveries, oldest first, onto `deliveries` until it holds `most` of them or `most_bytes`
        of payload (`size` now); the new size."""
        arrived = self._arrived
        while arrived and len(deliveries) < most and size < most_bytes:
            delivery = arrived.popleft()
            deliveries.append(delivery)
            size += len(delivery.payload)
        return size

    def __len__(self) -> int:
        return len(self._arrived)


def _wake(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)


class DrainingClient(mqtt.Client):
    """paho's client, reading every packet already received at each pass of its network loop, and
    acknowledging a hand-off's messages in one write.

    paho 2.2's `loop_read` reads one packet per `select()` however many wait (it sets `max_packets`
    from its own queues, not from the argument), and `ack` queues and writes one PUBACK at a time,
    waking paho's thread for each: at thousands of live messages a second the bridge made a
    `select()`, a pass of paho's loop, a wake-up and a write per message."""

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        for read in range(max(max_packets, READ_PER_PASS)):
            if self._sock is None:
                return mqtt.MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc == mqtt.MQTTErrorCode.MQTT_ERR_AGAIN:  # nothing more received yet
                if read:  # messages are flowing: let the next ones gather, they are handed off lingering
                    time.sleep(READ_PAUSE_S)
                break
            if rc > 0:
                return self._loop_rc_handle(rc)
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_all(self, mids: list[int]) -> None:
        """`ack(mid, 1)` for each of `mids` (QoS 1 messages), queued as one write of their PUBACKs."""
        if not mids or not self._manual_ack:
            return
        self._packet_queue(mqtt.PUBACK, b"".join(_PUBACK + mid.to_bytes(2, "big") for mid in mids), 0, 1)


_PUBACK = bytes((mqtt.PUBACK, 2))  # a PUBACK's fixed header: its type, and 2 bytes of packet id to follow


class ReasonLog:
    """Counts dead letters by reason; logs each reason at most once a minute."""

    def __init__(self, every_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.counts: dict[str, int] = {}
        self._last: dict[str, float] = {}
        self._every, self._clock = every_s, clock

    def record(self, reason: str) -> None:
        key = re.sub(r"\d+", "#", reason.split(":")[0][:80])  # "sample 17" and "sample 3" count together
        self.counts[key] = self.counts.get(key, 0) + 1
        metrics.DEAD_LETTERS.labels(metrics.dead_letter_reason(reason)).inc()
        now = self._clock()
        if now - self._last.get(key, -self._every) >= self._every:
            self._last[key] = now
            log.warning("dead-lettered (%d so far with this reason): %s", self.counts[key], reason[:300])


class Bridge:
    def __init__(
        self,
        settings: Settings,
        client_id: str | None = None,
        producer_factory: Callable[[], AIOKafkaProducer] | None = None,
    ):
        self.settings = settings
        self.client_id = client_id or service_client_id(settings, "bridge")
        self.reasons = ReasonLog()
        self.forwarded = 0
        self._producer_factory = producer_factory or self._default_producer
        self._inbox: Inbox | None = None  # made on the running loop (`_connect`)
        self._connected = asyncio.Event()
        self._client: DrainingClient | None = None
        self._kafka_error: str | None = None  # the last hand-off's failure, until one succeeds
        self._in_flight = asyncio.Semaphore(HANDOFFS_IN_FLIGHT)
        self._handoffs: set[asyncio.Task] = set()
        self._failure: BaseException | None = None
        self._live_delay = metrics.LIVE_DELAY.labels("bridge")

    def _default_producer(self) -> AIOKafkaProducer:
        # a synced message makes a record of ~45 KB: batches of up to 1 MB, not the default 16 KB
        return AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            acks="all",
            linger_ms=5,
            max_batch_size=MAX_BATCH_BYTES,
            max_request_size=1_048_576,
            compression_type=None,
        )

    async def run(self, ready: Callable[[], None] | None = None) -> None:
        loop = asyncio.get_running_loop()
        await kafka.ensure_topics(self.settings.kafka_bootstrap, self.settings.kafka_partitions)
        producer = self._producer_factory()
        await producer.start()
        client = self._client = self._connect(loop)
        try:
            await asyncio.wait_for(self._connected.wait(), timeout=60)
            log.info("bridge connected to MQTT and Kafka")
            if ready:
                ready()
            while True:
                await self._forward_batch(client, producer)
        finally:
            for task in list(self._handoffs):
                task.cancel()
            client.disconnect()
            client.loop_stop()
            await producer.stop()

    def health(self) -> tuple[bool, str]:
        """Ready once MQTT and Kafka are connected; not while Kafka refuses the hand-off."""
        if self._client is None or not self._connected.is_set():
            return False, "connecting to MQTT and Kafka"
        if not self._client.is_connected():
            return False, "MQTT connection lost; reconnecting"
        if self._kafka_error is not None:
            return False, f"Kafka hand-off failing: {self._kafka_error}"
        return True, "connected to MQTT and Kafka"

    def _connect(self, loop: asyncio.AbstractEventLoop) -> DrainingClient:
        client = mqtt_client(
            self.settings,
            self.client_id,
            DrainingClient,
            clean_session=False,
            manual_ack=True,
            protocol=mqtt.MQTTv311,
        )
        client.max_queued_messages_set(0)
        inbox = self._inbox = Inbox(loop)

        def on_connect(client, userdata, flags, reason_code, properties):
            if reason_code.is_failure:
                log.error("MQTT connect refused: %s", reason_code)
                return
            client.subscribe(SUBSCRIPTIONS)
            loop.call_soon_threadsafe(self._connected.set)

        def on_message(client, userdata, message):
            delivery = Delivery(message.mid, message.qos, message.topic, message.payload, int(time.time() * 1000))
            inbox.put(delivery)

        client.on_connect = on_connect
        client.on_message = on_message
        endpoint = self.settings.mqtt
        client.connect_async(endpoint.host, endpoint.port, keepalive=30)
        client.loop_start()
        return client

    async def _forward_batch(self, client: DrainingClient, producer: AIOKafkaProducer) -> None:
        """Judge the next batch of messages while earlier ones wait for Kafka (at most
        `HANDOFFS_IN_FLIGHT` of them); each batch is acknowledged once Kafka has all its records."""
        if self._failure is not None:
            raise self._failure
        inbox = self._inbox
        await inbox.wait()
        most = self.settings.bridge_batch_max
        deliveries: list[Delivery] = []
        size = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HANDOFF_LINGER_S
        while True:
            size = inbox.take(deliveries, size, most, BATCH_BYTES)
            left = deadline - loop.time()
            if len(deliveries) >= most or size >= BATCH_BYTES or left <= 0:
                break
            await asyncio.sleep(left)  # once: nobody wakes the loop meanwhile (`Inbox`)
        max_future_ms = int(self.settings.max_future_s * 1000)
        verdicts = [judge(d.topic, d.payload, d.received_ms, max_future_ms) for d in deliveries]
        await self._in_flight.acquire()
        task = asyncio.ensure_future(self._hand_off_then_ack(client, producer, deliveries, verdicts))
        self._handoffs.add(task)
        task.add_done_callback(self._handoff_done)

    async def _hand_off_then_ack(
        self, client: DrainingClient, producer: AIOKafkaProducer, deliveries: list[Delivery], verdicts: list[Verdict]
    ) -> None:
        try:
            await self._hand_off(producer, verdicts)
            newest = (max(s.ts for s in batch.samples) for v in verdicts for batch in v.batches if batch.samples)
            metrics.observe_live(self._live_delay, int(time.time() * 1000), newest)
            client.ack_all([delivery.mid for delivery in deliveries if delivery.qos == 1])
            for delivery in deliveries:
                if delivery.qos == 2:
                    client.ack(delivery.mid, delivery.qos)
            self.forwarded += len(deliveries)
        finally:
            self._in_flight.release()

    def _handoff_done(self, task: asyncio.Task) -> None:
        self._handoffs.discard(task)
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()  # raised by the loop: the bridge stops, unacknowledged

    async def _hand_off(self, producer: AIOKafkaProducer, verdicts: list[Verdict]) -> None:
        """Send every record until Kafka has them all; retry forever rather than drop."""
        partition_of = await kafka.producer_partitioner(producer, kafka.SAMPLES)
        records = _records(verdicts, partition_of)
        for verdict in verdicts:
            for reject in verdict.rejects:
                self.reasons.record(reject.reason)
        keep_dead_letters(self.settings, verdicts)
        delay = 0.2
        while True:
            try:
                futures = [
                    await producer.send(topic, value=value, key=key, partition=partition)
                    for topic, key, value, partition in records
                ]
                await asyncio.gather(*futures)
                self._kafka_error = None
                _count_in(verdicts)
                return
            except KafkaError as error:
                self._kafka_error = str(error)[:200]
                metrics.KAFKA_HANDOFF_ERRORS.inc()
                log.warning("Kafka hand-off failed (%s); holding %d records and retrying", error, len(records))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


def _count_in(verdicts: list[Verdict]) -> None:
    samples = sum(len(batch.samples) for verdict in verdicts for batch in verdict.batches)
    metrics.SAMPLES_IN.labels("bridge").inc(samples)
    metrics.PAIN_IN.labels("bridge").inc(sum(verdict.pain is not None for verdict in verdicts))


def keep_dead_letters(settings: Settings, verdicts: list[Verdict]) -> None:
    """Dead letters also go to `{FOOTPOD_DATA_DIR}/deadletter/bridge.jsonl`, one JSON line each: the
    local Kafka keeps its topics in memory only, and a restart of it must not lose them. Written
    before the MQTT message is acknowledged, so a kill writes a line twice rather than never."""
    lines = [reject.model_dump_json() for verdict in verdicts for reject in verdict.rejects]
    if not lines:
        return
    path = settings.data_dir / "deadletter" / "bridge.jsonl"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
    except OSError:  # a full disk must not stop good samples; the Kafka topic still has them
        log.exception("could not keep %d dead letters on disk", len(lines))


def _records(verdicts: list[Verdict], partition_of: Callable[[str], int]) -> list[tuple]:
    """Kafka records `(topic, key, value, partition)`: the samples of the runners on one partition of
    `footpod.samples` (their key's, `partition_of`) packed together (`footpod.records.pack_json`),
    each runner's in order; pain reports and dead letters one record each, keyed."""
    values = (
        (partition_of(batch.runner), value)
        for verdict in verdicts
        for batch in verdict.batches
        for value in sample_records(batch, MAX_RECORD_BYTES - 2)  # with the array's brackets, within the bound
    )
    records = [(kafka.SAMPLES, None, value, partition) for partition, value in pack_json(values, MAX_RECORD_BYTES)]
    for verdict in verdicts:
        if verdict.pain is not None:
            records.append((kafka.PAIN, verdict.pain.runner.encode(), verdict.pain.model_dump_json().encode(), None))
        for reject in verdict.rejects:
            records.append((kafka.DEADLETTER, reject.topic.encode(), reject.model_dump_json().encode(), None))
    return records


def sample_records(batch: SampleBatch | SampleBatchRecord, max_bytes: int = MAX_RECORD_BYTES) -> list[bytes]:
    """A batch as Kafka record values (`SampleBatch` JSON) of at most `max_bytes` each: halved
    until they fit (5,000 samples with 64-character device and run ids make ~1.06 MB)."""
    if isinstance(batch, SampleBatchRecord):
        value = msgspec.json.encode(batch)
    else:
        value = batch.model_dump_json().encode()
    if len(value) <= max_bytes or len(batch.samples) == 1:
        return [value]
    middle = len(batch.samples) // 2
    return [
        part
        for half in (batch.samples[:middle], batch.samples[middle:])
        for part in sample_records(_with_samples(batch, half), max_bytes)
    ]


def _with_samples(batch: SampleBatch | SampleBatchRecord, samples: tuple) -> SampleBatch | SampleBatchRecord:
    if isinstance(batch, SampleBatchRecord):
        return msgspec.structs.replace(batch, samples=samples)
    return batch.model_copy(update={"samples": samples})
