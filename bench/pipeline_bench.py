"""The whole pipeline on local servers: synced runs published over MQTT until InfluxDB has them all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from rich.console import Console

from monitor import servers

TARGET = 200_000


def pipeline(runners: int, samples_per_run: int, console: Console, runs_per_runner: int = 5) -> None:
    data = Path(tempfile.mkdtemp(prefix="footpod-bench-"))
    started = [
        servers.mosquitto(data / "mosquitto", port=servers.free_port()).start(),
        servers.tansu(data, port=servers.free_port()).start(),
        servers.influxdb(data / "influxdb", port=servers.free_port()).start(),
    ]
    mqtt_port, kafka_port, influx_port = (server.port for server in started)
    env = {
        **os.environ,
        "FOOTPOD_MQTT_URL": f"mqtt://127.0.0.1:{mqtt_port}",
        "FOOTPOD_KAFKA_URL": f"kafka://127.0.0.1:{kafka_port}",
        "FOOTPOD_INFLUX_URL": f"http://127.0.0.1:{influx_port}",
        "FOOTPOD_DATA_DIR": str(data),
    }
    (data / "logs").mkdir(parents=True, exist_ok=True)
    stages = [
        subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", stage],
            env=env,
            stdout=(data / "logs" / f"{stage}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for stage in ("bridge", "stream", "alerts")
    ]
    try:
        _wait_files(data / "run", ("bridge", "stream", "alerts"))
        payloads = _payloads(runners, runs_per_runner, samples_per_run)
        total = runners * runs_per_runner * samples_per_run
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        client.connect("127.0.0.1", mqtt_port)
        client.loop_start()
        start = time.perf_counter()
        infos = [client.publish(topic, body, qos=1) for topic, body in payloads]
        for info in infos:
            info.wait_for_publish(60)
        published = time.perf_counter() - start
        console.print(f"published {total:,} samples in {published:.1f} s; waiting for the store")
        stored = _wait_stored(influx_port, total, timeout_s=120)
        elapsed = time.perf_counter() - start
        client.loop_stop()
        console.print(
            f"pipeline: {total:,} samples ({runners} runners × {runs_per_runner} runs of "
            f"{samples_per_run}) published in {published:.1f} s, all counted and stored after "
            f"{elapsed:.1f} s: {stored / elapsed:,.0f} samples/s = {stored / elapsed / TARGET:.2f} × target"
        )
    finally:
        console.print(f"logs: {data / 'logs'}")
        for stage in stages:
            stage.terminate()
        for stage in stages:
            stage.wait(20)
        for server in reversed(started):
            server.stop()


def _payloads(runners: int, runs: int, samples: int) -> list[tuple[str, bytes]]:
    base = int(time.time() * 1000) - 20 * 86_400_000
    out = []
    for runner in range(runners):
        for k in range(runs):
            start = base + k * 86_400_000 + runner * 1000
            body = [
                {
                    "ts": start + i * 1000,
                    "device_id": f"pod-{runner}",
                    "cadence_spm": 170 + i % 5,
                    "distance_m": i * 3.0,
                }
                for i in range(samples)
            ]
            out.append((f"footpod/bench{runner}/samples", json.dumps(body).encode()))
    return out


def _wait_files(run_dir: Path, names, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not all((run_dir / f"{name}.ready").exists() for name in names):
        if time.monotonic() > deadline:
            raise RuntimeError("the pipeline did not start")
        time.sleep(0.2)


def _wait_stored(influx_port: int, total: int, timeout_s: float = 600) -> int:
    deadline = time.monotonic() + timeout_s
    counted = 0
    while time.monotonic() < deadline:
        response = httpx.get(
            f"http://127.0.0.1:{influx_port}/query", params={"db": "footpod", "q": "SELECT sum(samples) FROM run"}
        )
        series = response.json()["results"][0].get("series")
        counted = int(series[0]["values"][0][1]) if series else 0
        if counted >= total:
            return counted
        print(f"\r  stored {counted:,} of {total:,} samples", end="", file=sys.stderr, flush=True)
        time.sleep(0.25)
    raise RuntimeError(f"only {counted:,} of {total:,} samples stored in {timeout_s} s")
