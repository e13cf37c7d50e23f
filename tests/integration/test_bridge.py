"""The bridge loses nothing: Kafka frozen, or the bridge itself killed mid-flow (FAULTS.md 2, 3)."""

import asyncio
import json
import os
import signal
import time

import pytest
from aiokafka import AIOKafkaConsumer

from monitor import servers
from tests.integration.stack import Stack, mqtt_connect

MESSAGES = 600


@pytest.fixture
def bridge_only(tmp_path):
    """Mosquitto, Kafka and the bridge alone: what reaches Kafka is what the bridge forwarded."""
    mqtt_server = servers.mosquitto(tmp_path / "mosquitto", port=servers.free_port()).start()
    kafka_server = servers.tansu(tmp_path, port=servers.free_port()).start()
    stack = Stack(tmp_path, mqtt_server.port, kafka_server.port, influx_port=servers.free_port())
    stack.start_stage("bridge")
    stack.wait_ready("bridge")
    yield stack, kafka_server
    stack.stop_stages()
    os.kill(kafka_server.process.pid, signal.SIGCONT)
    kafka_server.stop()
    mqtt_server.stop()


def publish_samples(port: int, count: int, start: int = 0, pause_every: int = 0, on_pause=None) -> None:
    client = mqtt_connect(port)
    base = int(time.time() * 1000) - 3_600_000
    infos = []
    for i in range(start, start + count):
        sample = {"ts": base + i * 1000, "device_id": "pod-z", "cadence_spm": 170, "distance_m": i * 3.0}
        infos.append(client.publish("footpod/zoe/samples", json.dumps(sample), qos=1))
        if pause_every and (i + 1) % pause_every == 0 and on_pause:
            on_pause()
    for info in infos:
        info.wait_for_publish(30)
    client.loop_stop()
    client.disconnect()


def distinct_samples_in_kafka(bootstrap: str, expected: int, timeout_s: float = 60) -> set[int]:
    async def read() -> set[int]:
        consumer = AIOKafkaConsumer(
            "footpod.samples", bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        seen: set[int] = set()
        deadline = time.monotonic() + timeout_s
        try:
            while len(seen) < expected and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        seen.update(s["ts"] for batch in json.loads(record.value) for s in batch["samples"])
        finally:
            await consumer.stop()
        return seen

    return asyncio.run(read())


def test_a_frozen_kafka_holds_messages_back_and_loses_none(bridge_only):
    stack, kafka_server = bridge_only
    os.kill(kafka_server.process.pid, signal.SIGSTOP)
    publish_samples(stack.mqtt_port, MESSAGES)  # the broker acknowledges the phone; the bridge waits
    time.sleep(3)
    assert stack.stages["bridge"].poll() is None, "the bridge gave up while Kafka was frozen"
    os.kill(kafka_server.process.pid, signal.SIGCONT)
    assert len(distinct_samples_in_kafka(stack.kafka_bootstrap, MESSAGES)) == MESSAGES


def test_a_bridge_killed_mid_flow_loses_nothing_after_restart(bridge_only):
    stack, _ = bridge_only
    kills = []

    def kill_once() -> None:
        if not kills:
            stack.stages["bridge"].send_signal(signal.SIGKILL)
            kills.append(True)

    publish_samples(stack.mqtt_port, MESSAGES, pause_every=150, on_pause=kill_once)
    stack.stages["bridge"].wait(10)
    stack.start_stage("bridge")  # same client id, persistent session: the broker kept the rest
    stack.wait_ready("bridge")
    assert len(distinct_samples_in_kafka(stack.kafka_bootstrap, MESSAGES)) == MESSAGES
