"""The live bench's load generator against Mosquitto: every QoS 1 publish arrives and is acknowledged.

Topics under `bench/loadgen/` keep these messages away from the session pipeline's bridge."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import paho.mqtt.client as mqtt

from bench.loadgen import MAX_PACKET_ID, Connection, LiveLoad, topic_prefix
from tests.integration.stack import Stack, wait_for


class Received:
    """A QoS 1 subscriber that keeps every (topic, payload) it gets."""

    def __init__(self, port: int, topic: str):
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"loadgen-sub-{time.time_ns()}")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.on_connect = lambda client, *args: client.subscribe(topic, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert subscribed.wait(10), "the subscriber did not subscribe"

    def _on_message(self, client, userdata, message) -> None:
        with self.lock:
            self.messages.append((message.topic, message.payload))

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_every_publish_reaches_a_subscriber_and_each_is_acknowledged_once(stack: Stack):
    received = Received(stack.mqtt_port, "bench/loadgen/many/#")
    connections = [Connection("127.0.0.1", stack.mqtt_port, f"loadgen-{n}-{time.time_ns()}") for n in range(3)]
    connections[0].next_id = MAX_PACKET_ID - 5  # its packet ids wrap around to 1 on the way
    topics = [f"bench/loadgen/many/runner{m}" for m in range(40)]
    sent = []
    try:
        for batch in range(30):  # 30 ticks of 100 messages, 40 topics over 3 connections
            packets: list[list[bytes]] = [[], [], []]
            for k in range(100):
                n = batch * 100 + k
                topic, payload = topics[n % 40], json.dumps({"n": n, "ts": time.time_ns()}).encode()
                packets[n % 3].append(connections[n % 3].packet(topic_prefix(topic), payload))
                sent.append((topic, payload))
            for connection, batch_packets in zip(connections, packets, strict=True):
                connection.send(batch_packets)
        unacknowledged = sum(connection.drain(30) for connection in connections)
        wait_for(lambda: received.count() >= len(sent), what="every message at the subscriber", timeout_s=30)
    finally:
        for connection in connections:
            connection.close()
        received.close()

    assert unacknowledged == 0
    assert sum(connection.acknowledged for connection in connections) == len(sent) == 3000
    assert sum(connection.published for connection in connections) == len(sent)
    assert sum(connection.unexpected for connection in connections) == 0
    assert Counter(received.messages) == Counter(sent)  # each once, on its own topic, as sent


def test_live_load_sends_every_runner_at_the_same_rate_on_its_own_topic(stack: Stack):
    received = Received(stack.mqtt_port, "bench/loadgen/live/#")
    runners = [f"r{n}" for n in range(60)]
    connections = [Connection("127.0.0.1", stack.mqtt_port, f"loadgen-live-{n}-{time.time_ns()}") for n in range(2)]
    load = LiveLoad(
        connections,
        runners,
        lambda r, ts_ms: json.dumps({"runner": runners[r], "ts": ts_ms}).encode(),
        tick_s=0.01,
        topic="bench/loadgen/live/{runner}",
    )
    stop = threading.Event()
    thread = threading.Thread(target=load.run, args=(stop, time.time() + 0.1))
    try:
        thread.start()
        wait_for(lambda: load.published >= 2 * len(runners), what="two seconds of samples", timeout_s=30, every_s=0.05)
        stop.set()
        thread.join(10)
        unacknowledged = sum(connection.drain(30) for connection in connections)
        wait_for(lambda: received.count() >= load.published, what="every sample at the subscriber", timeout_s=30)
    finally:
        stop.set()
        for connection in connections:
            connection.close()
        received.close()

    assert load.error is None
    assert unacknowledged == 0 and load.acknowledged == load.published
    per_runner = Counter(topic for topic, _ in received.messages)
    assert set(per_runner) == {f"bench/loadgen/live/{runner}" for runner in runners}
    assert max(per_runner.values()) - min(per_runner.values()) <= 1  # each second goes round every runner
    for topic, payload in received.messages:
        assert json.loads(payload)["runner"] == topic.rsplit("/", 1)[1]
    stamps = [json.loads(payload)["ts"] for topic, payload in received.messages if topic.endswith("/r0")]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
