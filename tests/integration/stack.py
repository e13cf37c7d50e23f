"""The local servers and stages as the integration tests drive them, and an MQTT watcher."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt

from monitor.servers import Server

READY_TIMEOUT_S = 90
RTR_START = (datetime.now(UTC) - timedelta(days=3)).date()
ROSTER = f"""runners:
  alice: {{team: harriers}}
  bob: {{team: harriers}}
  frank: {{team: striders, cadence_retraining: true}}
  gina: {{team: striders, return_to_run: {{start: {RTR_START}, normal_week_km: 40}}}}
  hank: {{team: striders, shoes: {{hank-pod: 470}}}}
"""


@dataclass
class Stack:
    data_dir: Path
    mqtt_port: int
    kafka_port: int
    influx_port: int
    stages: dict[str, subprocess.Popen] = field(default_factory=dict)
    running: dict[str, Server] = field(default_factory=dict)  # "mqtt", "kafka", "influx": to stop and start
    metrics_ports: dict[str, int] = field(default_factory=dict)  # stage -> its /metrics and /healthz port

    def start_stage(self, stage: str) -> subprocess.Popen:
        """Start (or restart) one stage as the operator would, and wait until it accepts work."""
        logs = self.data_dir / "logs"
        logs.mkdir(exist_ok=True)
        ready = self.data_dir / "run" / f"{stage}.ready"
        ready.unlink(missing_ok=True)
        log = (logs / f"{stage}.log").open("ab")
        if stage not in self.metrics_ports:
            from monitor.servers import free_port

            self.metrics_ports[stage] = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "-l", "info", stage],
            env={**self.env, "FOOTPOD_METRICS_PORT": str(self.metrics_ports[stage])},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
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
            # notifications: a target that is down is tried again within seconds, not minutes
            "FOOTPOD_NOTIFY_BACKOFF_S": "0.5",
            "FOOTPOD_NOTIFY_BACKOFF_MAX_S": "2",
            "FOOTPOD_NOTIFY_DAILY_HOUR_UTC": "0",  # the daily status message from the first round of any day
        }

    @property
    def influx_url(self) -> str:
        return f"http://127.0.0.1:{self.influx_port}"

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"


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
        with_topics = f"{what}; saw topics {sorted({t for t, _ in self.messages})}"
        return wait_for(condition, what=with_topics, timeout_s=timeout_s, every_s=0.2)


def wait_for(condition, what: str, timeout_s: float = 90.0, every_s: float = 0.5):
    """The first true value of `condition()`, polled every `every_s`; fails naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(every_s)
    raise AssertionError(f"timed out waiting for {what}")


def mqtt_connect(port: int, client_id: str = "") -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


@contextmanager
def own_pipeline(data_dir: Path, stages=("bridge", "stream", "alerts")) -> Iterator[Stack]:
    """Servers and stages of their own, for a module whose points, alerts or dead letters must stay
    out of the session pipeline that other tests count in."""
    from monitor import servers

    started = []
    stack = None
    try:
        started.append(servers.mosquitto(data_dir / "mosquitto", port=servers.free_port()).start())
        started.append(servers.tansu(data_dir, port=servers.free_port()).start())
        started.append(servers.influxdb(data_dir / "influxdb", port=servers.free_port()).start())
        stack = Stack(data_dir, *(server.port for server in started))
        stack.running = dict(zip(("mqtt", "kafka", "influx"), started, strict=True))
        (data_dir / "roster.yaml").write_text(ROSTER)
        for stage in stages:
            stack.start_stage(stage)
        stack.wait_ready(*stages)
        yield stack
    finally:
        if stack is not None:
            stack.stop_stages()
        for server in reversed(started):
            server.stop()
