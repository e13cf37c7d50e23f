"""Real servers and the real pipeline, started once per session on ports the OS picks."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from monitor import servers
from tests.integration.stack import ROSTER, MqttWatcher, Stack, mqtt_connect

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    data_dir = tmp_path_factory.mktemp("stack")
    started = []
    try:
        mqtt_server = servers.mosquitto(data_dir / "mosquitto", port=servers.free_port()).start()
        started.append(mqtt_server)
        kafka_server = servers.tansu(data_dir, port=servers.free_port()).start()
        started.append(kafka_server)
        influx_server = servers.influxdb(data_dir / "influxdb", port=servers.free_port()).start()
        started.append(influx_server)
        yield Stack(
            data_dir,
            mqtt_server.port,
            kafka_server.port,
            influx_server.port,
            running={"mqtt": mqtt_server, "kafka": kafka_server, "influx": influx_server},
        )
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture(scope="session")
def pipeline(stack: Stack):
    """The bridge, stream worker and alert worker as the operator runs them."""
    (stack.data_dir / "roster.yaml").write_text(ROSTER)
    try:
        for stage in ("bridge", "stream", "alerts"):
            stack.start_stage(stage)
        stack.wait_ready("bridge", "stream", "alerts")
        yield stack
    finally:
        stack.stop_stages()


@pytest.fixture
def watch(pipeline: Stack):
    def start(*topics: str) -> MqttWatcher:
        watcher = MqttWatcher()
        client = mqtt_connect(pipeline.mqtt_port)
        client.on_message = watcher.on_message
        subscribed = threading.Event()
        client.on_subscribe = lambda *args: subscribed.set()
        client.subscribe([(topic, 1) for topic in topics])
        subscribed.wait(5)
        clients.append(client)
        return watcher

    clients: list[mqtt.Client] = []
    yield start
    for client in clients:
        client.loop_stop()
        client.disconnect()


@pytest.fixture
def phone(pipeline: Stack):
    """Publishes like a phone: QoS 1, waiting for the broker's acknowledgement."""
    client = mqtt_connect(pipeline.mqtt_port)

    def publish(topic: str, payload) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload)
        client.publish(topic, body, qos=1).wait_for_publish(10)

    yield publish
    client.loop_stop()
    client.disconnect()
