"""Real servers and the real pipeline, started once per session on ports the OS picks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from footpod import servers

READY_TIMEOUT_S = 90
RTR_START = (datetime.now(timezone.utc) - timedelta(days=3)).date()
ROSTER = f"""runners:
  alice: {{team: harriers}}
  bob: {{team: harriers}}
  frank: {{team: striders, cadence_retraining: true}}
  gina: {{team: striders, return_to_run: {{start: {RTR_START}, normal_week_km: 40}}}}
  hank: {{team: striders, shoes: {{hank-pod: 470}}}}
"""
HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


@dataclass
class Stack:
    data_dir: Path
    mqtt_port: int
    kafka_port: int
    influx_port: int
    stages: dict[str, subprocess.Popen] = field(default_factory=dict)
    running: dict[str, servers.Server] = field(default_factory=dict)  # "mqtt", "kafka", "influx": to stop and start

    def start_stage(self, stage: str) -> subprocess.Popen:
        """Start (or restart) one stage as the operator would, and wait until it accepts work."""
        logs = self.data_dir / "logs"
        logs.mkdir(exist_ok=True)
        ready = self.data_dir / "run" / f"{stage}.ready"
        ready.unlink(missing_ok=True)
        log = (logs / f"{stage}.log").open("ab")
        process = subprocess.Popen([sys.executable, "-m", "footpod.cli", "-l", "info", stage],
                                   env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.stages[stage] = process
        return process

    def wait_ready(self, *stages: str) -> None:
        _wait_ready(self.data_dir / "run", stages, [self.stages[s] for s in stages], self.data_dir / "logs")

    def stop_stages(self) -> None:
        for process in self.stages.values():
            if process.poll() is None:
                process.terminate()
        for process in self.stages.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "FOOTPOD_MQTT_URL": f"mqtt://127.0.0.1:{self.mqtt_port}",
            "FOOTPOD_KAFKA_URL": f"kafka://127.0.0.1:{self.kafka_port}",
            "FOOTPOD_INFLUX_URL": f"http://127.0.0.1:{self.influx_port}",
            "FOOTPOD_DATA_DIR": str(self.data_dir),
            "FOOTPOD_ROSTER": str(self.data_dir / "roster.yaml"),
        }

    @property
    def influx_url(self) -> str:
        return f"http://127.0.0.1:{self.influx_port}"

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"


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
        yield Stack(data_dir, mqtt_server.port, kafka_server.port, influx_server.port,
                    running={"mqtt": mqtt_server, "kafka": kafka_server, "influx": influx_server})
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


def _wait_ready(run_dir: Path, names, processes, logs: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if all((run_dir / f"{name}.ready").exists() for name in names):
            return
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"a stage exited early: {process.args}\n" + _tails(logs))
        time.sleep(0.2)
    raise RuntimeError("the pipeline did not become ready\n" + _tails(logs))


def _tails(logs: Path) -> str:
    return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-2000:]}" for path in logs.glob("*.log"))


@dataclass
class MqttWatcher:
    """Collects what arrives on some topics; `wait_for` polls for a condition."""

    messages: list[tuple[str, dict]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_message(self, client, userdata, message) -> None:
        with self.lock:
            self.messages.append((message.topic, json.loads(message.payload)))

    def on(self, prefix: str) -> list[dict]:
        with self.lock:
            return [payload for topic, payload in self.messages if topic.startswith(prefix)]

    def wait_for(self, condition, timeout_s: float = 60.0, what: str = "condition"):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; saw topics {sorted({t for t, _ in self.messages})}")


def mqtt_connect(port: int, client_id: str = "") -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


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
