"""The whole pipeline (bridge, stream, alerts as processes) on servers of its own, for the fault rows
that kill or stop parts of it; and what the store holds, read back for a ledger."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt

from monitor import servers
from tests.integration.stack import MqttWatcher, Stack, mqtt_connect

# Shortened waits (each a FOOTPOD_* setting), so a row fits in a minute or two:
FAST = {
    "FOOTPOD_RUN_SETTLE_S": "4",  # a run is judged 4 s after its last sample (30 s in production)
    "FOOTPOD_RUN_GAP_S": "6",  # a pause of 6 s starts a new run (300 s)
    "FOOTPOD_PAIN_SETTLE_S": "2",
    "FOOTPOD_PAIN_SETTLE_MAX_S": "6",
    "FOOTPOD_LIVE_STATUS_INTERVAL_S": "1",
    "FOOTPOD_KAFKA_PARTITIONS": "4",
}


@dataclass
class FaultStack(Stack):
    """A Stack whose servers belong to one test: they can be stopped, killed and started again."""

    extra_env: dict[str, str] = field(default_factory=dict)
    mqtt_autosave_s: int = 10  # Mosquitto's `autosave_interval` when started again

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, **FAST, **self.extra_env}

    def kill_stage(self, stage: str) -> None:
        process = self.stages[stage]
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def restart_stage(self, stage: str, wait: bool = True) -> subprocess.Popen:
        process = self.start_stage(stage)
        if wait:
            self.wait_ready(stage)
        return process

    def stop_server(self, name: str) -> None:
        self.running[name].stop()

    def kill_server(self, name: str) -> None:
        process = self.running[name].process
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def start_server(self, name: str) -> None:
        """The server again, on the same port and data directory."""
        make = {
            "mqtt": lambda: servers.mosquitto(
                self.data_dir / "mosquitto", port=self.mqtt_port, autosave_interval_s=self.mqtt_autosave_s
            ),
            "kafka": lambda: servers.tansu(self.data_dir, port=self.kafka_port),
            "influx": lambda: servers.influxdb(self.data_dir / "influxdb", port=self.influx_port),
        }[name]
        self.running[name] = make().start()

    def stop_all(self) -> None:
        self.stop_stages()
        for server in reversed(list(self.running.values())):
            server.stop()

    # --- what the store holds ---------------------------------------------------------------------

    def query(self, influxql: str) -> list[dict]:
        response = httpx.post(
            f"{self.influx_url}/query", params={"db": "footpod", "epoch": "ms"}, data={"q": influxql}, timeout=30
        )
        response.raise_for_status()
        rows = []
        for result in response.json().get("results", []):
            for series in result.get("series", []):
                for values in series["values"]:
                    rows.append({**series.get("tags", {}), **dict(zip(series["columns"], values))})
        return rows

    def final_runs(self) -> list[dict]:
        """Every run judged whole that counts (not a duplicate of another)."""
        rows = self.query('SELECT * FROM "run" WHERE "final" = true')
        return [row for row in rows if not row.get("duplicate_of")]

    def points(self, measurement: str, columns: str = "*") -> list[dict]:
        return self.query(f'SELECT {columns} FROM "{measurement}"')


def start_pipeline(data_dir: Path, roster: str, **extra_env: str) -> FaultStack:
    """Mosquitto, Tansu and InfluxDB on free ports, then the three stages, ready."""
    running: dict[str, servers.Server] = {}
    try:
        running["mqtt"] = servers.mosquitto(data_dir / "mosquitto", port=servers.free_port()).start()
        running["kafka"] = servers.tansu(data_dir, port=servers.free_port()).start()
        running["influx"] = servers.influxdb(data_dir / "influxdb", port=servers.free_port()).start()
        stack = FaultStack(
            data_dir,
            running["mqtt"].port,
            running["kafka"].port,
            running["influx"].port,
            running=running,
            extra_env=dict(extra_env),
        )
        (data_dir / "roster.yaml").write_text(roster)
        for stage in ("bridge", "stream", "alerts"):
            stack.start_stage(stage)
        stack.wait_ready("bridge", "stream", "alerts")
        return stack
    except BaseException:
        for server in running.values():
            server.stop()
        raise


class TimedWatcher(MqttWatcher):
    """An MqttWatcher that also notes when each message arrived (wall ms)."""

    def __init__(self):
        super().__init__()
        self.arrived: list[int] = []

    def on_message(self, client, userdata, message) -> None:
        with self.lock:
            self.messages.append((message.topic, json.loads(message.payload)))
            self.arrived.append(int(time.time() * 1000))

    def since(self, ms: int, prefix: str) -> list[tuple[int, dict]]:
        """(arrival ms, payload) of the messages under `prefix` that arrived at or after `ms`."""
        with self.lock:
            return [
                (at, payload)
                for at, (topic, payload) in zip(self.arrived, self.messages)
                if at >= ms and topic.startswith(prefix)
            ]


def watch(port: int, *topics: str) -> tuple[TimedWatcher, mqtt.Client]:
    watcher = TimedWatcher()
    client = mqtt_connect(port)
    client.on_message = watcher.on_message
    subscribed = threading.Event()
    client.on_subscribe = lambda *args: subscribed.set()
    client.subscribe([(topic, 1) for topic in topics])
    subscribed.wait(5)
    return watcher, client


class Phone:
    """Syncs runs as a phone does: each run one QoS 1 message, acknowledged by the broker. Every
    sample sent is recorded in a ledger: (device, ts) -> the run it belongs to."""

    def __init__(self, port: int):
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"phone-{time.monotonic_ns()}", clean_session=False
        )
        self.client.reconnect_delay_set(min_delay=0.2, max_delay=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.sent: dict[tuple[str, int], tuple[str, float]] = {}  # (device, ts) -> (runner, distance)

    def sync(self, runner: str, samples: list[dict], timeout_s: float = 60) -> None:
        for sample in samples:
            self.sent[(sample["device_id"], sample["ts"])] = (runner, sample["distance_m"])
        info = self.client.publish(f"footpod/{runner}/samples", json.dumps(samples), qos=1)
        info.wait_for_publish(timeout_s)

    def pain(self, runner: str, report: dict) -> None:
        self.client.publish(f"footpod/{runner}/pain", json.dumps(report), qos=1).wait_for_publish(30)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def wait_until(condition, timeout_s: float, step_s: float = 1.0):
    """Poll `condition` until it is truthy or the timeout; its last value."""
    deadline = time.monotonic() + timeout_s
    value = condition()
    while not value and time.monotonic() < deadline:
        time.sleep(step_s)
        value = condition()
    return value
