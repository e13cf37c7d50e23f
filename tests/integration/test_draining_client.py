"""The bridge's MQTT client reads every packet already received at one pass of its loop, where
paho's own reads one (Mosquitto on the session's stack; topics under `bench/draining/`, away from
the pipeline's bridge)."""

from __future__ import annotations

import select
import threading
import time

import paho.mqtt.client as mqtt

from ingest.bridge import READ_PER_PASS, DrainingClient
from tests.integration.stack import Stack


def received_in_one_pass(port: int, client_class: type[mqtt.Client], messages: int) -> int:
    """Messages a subscriber of `client_class` takes in one pass of its loop, with `messages` waiting."""
    topic = f"bench/draining/{client_class.__name__}/{time.time_ns()}"
    received: list[bytes] = []
    subscribed = threading.Event()
    client = client_class(mqtt.CallbackAPIVersion.VERSION2, client_id=f"draining-{time.time_ns()}")
    client.on_message = lambda c, u, message: received.append(message.payload)
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect("127.0.0.1", port)
    client.subscribe(topic, 1)
    deadline = time.monotonic() + 10
    while not subscribed.is_set() and time.monotonic() < deadline:
        client.loop(0.1)
    assert subscribed.is_set(), "the subscriber did not subscribe"
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"draining-pub-{time.time_ns()}")
    publisher.connect("127.0.0.1", port)
    publisher.loop_start()
    try:
        infos = [publisher.publish(topic, str(n).encode(), qos=1) for n in range(messages)]
        for info in infos:
            info.wait_for_publish(10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # every message in the subscriber's socket, unread
            time.sleep(0.05)
            if select.select([client.socket()], [], [], 0)[0]:
                break
        time.sleep(0.3)
        client.loop_read()
        taken = len(received)
        while len(received) < messages and time.monotonic() < deadline + 5:
            client.loop(0.1)
        assert sorted(int(p) for p in received) == list(range(messages))  # each once, whatever the passes
        return taken
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        client.disconnect()


def test_the_bridge_client_reads_every_waiting_message_in_one_pass_where_paho_reads_one(stack: Stack):
    waiting = 200
    assert waiting < READ_PER_PASS
    assert received_in_one_pass(stack.mqtt_port, mqtt.Client, waiting) == 1
    assert received_in_one_pass(stack.mqtt_port, DrainingClient, waiting) == waiting


def test_messages_acknowledged_together_are_not_delivered_again_and_the_others_are(stack: Stack):
    """A persistent session with manual acks: `ack_all` acknowledges the first half in one write; on
    reconnecting, the broker delivers again exactly the half left unacknowledged."""
    topic, client_id = f"bench/draining/acks/{time.time_ns()}", f"draining-acks-{time.time_ns()}"
    received: list[tuple[int, int]] = []  # (payload, mid)
    lock = threading.Lock()

    def session() -> DrainingClient:
        client = DrainingClient(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            manual_ack=True,
            protocol=mqtt.MQTTv311,
        )
        client.max_inflight_messages_set(100)

        def on_message(c, u, message):
            with lock:
                received.append((int(message.payload), message.mid))

        client.on_message = on_message
        client.on_connect = lambda c, *args: c.subscribe(topic, 1)
        client.connect("127.0.0.1", stack.mqtt_port)
        client.loop_start()
        return client

    def until(count: int) -> list[tuple[int, int]]:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with lock:
                if len(received) >= count:
                    return list(received)
            time.sleep(0.02)
        raise AssertionError(f"{len(received)} of {count} messages arrived")

    subscriber = session()
    time.sleep(0.5)  # subscribed
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"draining-pub-{time.time_ns()}")
    publisher.connect("127.0.0.1", stack.mqtt_port)
    publisher.loop_start()
    try:
        for info in [publisher.publish(topic, str(n).encode(), qos=1) for n in range(40)]:
            info.wait_for_publish(10)
        first = until(40)
        assert sorted(payload for payload, _ in first) == list(range(40))
        subscriber.ack_all([mid for payload, mid in first if payload < 20])
        time.sleep(0.5)  # the PUBACKs written
        subscriber.loop_stop()
        subscriber.disconnect()
        with lock:
            received.clear()
        subscriber = session()
        again = until(20)
        time.sleep(0.5)  # nothing else comes
        with lock:
            assert sorted(payload for payload, _ in received) == list(range(20, 40))
        subscriber.ack_all([mid for _, mid in again])
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        subscriber.loop_stop()
        subscriber.disconnect()
