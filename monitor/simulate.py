"""A simulated team: weeks of past runs synced as arrays, then live 1 Hz runs over MQTT.

Most runners train steadily; every fourth overreaches (this week about 30 % over the last);
now and then someone reports knee pain.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass

from rich.console import Console

from footpod.load import DAY_MS
from footpod.settings import Settings


@dataclass(frozen=True)
class Runner:
    name: str
    device_id: str
    weekly_km: float
    speed_mps: float
    cadence_spm: float
    overreaching: bool


def team(size: int, rng: random.Random) -> list[Runner]:
    return [
        Runner(
            name=f"runner{i:02d}",
            device_id=f"pod-{i:02d}",
            weekly_km=rng.uniform(20, 45),
            speed_mps=rng.uniform(2.6, 3.6),
            cadence_spm=rng.uniform(160, 182),
            overreaching=i % 4 == 3,
        )
        for i in range(size)
    ]


def run_samples(runner: Runner, start_ms: int, km: float, rng: random.Random, start_m: float = 0.0) -> list[dict]:
    """One run at 1 Hz: cadence and speed vary around the runner's own; a short walk to warm up."""
    samples, distance, ts = [], start_m, start_ms
    warmup_s = 60
    while distance - start_m < km * 1000:
        walking = ts - start_ms < warmup_s * 1000
        speed = (1.4 if walking else runner.speed_mps) * rng.uniform(0.92, 1.08)
        cadence = (110 if walking else runner.cadence_spm) + rng.gauss(0, 2.5)
        distance += speed
        samples.append(
            {
                "ts": ts,
                "device_id": runner.device_id,
                "cadence_spm": round(max(cadence, 0), 1),
                "distance_m": round(distance, 1),
                "speed_mps": round(speed, 2),
            }
        )
        ts += 1000
    return samples


def history(runner: Runner, now_ms: int, weeks: int, rng: random.Random) -> list[list[dict]]:
    """Past runs, four a week on the runner's usual days; an overreaching runner's last week is
    about 30 % bigger. Each week's runs start 2 h later than the week before's, so a trailing
    7-day window holds one week's runs, not a run of the week before as well."""
    slots = sorted(rng.sample(range(0, 160, 8), 4))
    runs = []
    for week in range(weeks, 0, -1):
        factor = 1.3 if runner.overreaching and week == 1 else rng.uniform(0.97, 1.03)
        for slot in slots:
            start = now_ms - week * 7 * DAY_MS + (slot + 2 * (weeks - week)) * 3_600_000
            if start < now_ms - 3_600_000:
                runs.append(run_samples(runner, start, runner.weekly_km * factor / 4, rng))
    return runs


def run_team(settings: Settings, size: int, history_weeks: int = 3, seed: int = 7) -> None:
    """Sync each runner's history, then run everyone live, staggered, until interrupted."""
    from footpod.mqtt import mqtt_client

    console = Console(stderr=True)
    rng = random.Random(seed)
    client = mqtt_client(settings, f"footpod-simulator-{seed}")
    endpoint = settings.mqtt
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    now_ms = int(time.time() * 1000)
    members = team(size, rng)
    for runner in members:
        for samples in history(runner, now_ms, history_weeks, rng):
            client.publish(f"footpod/{runner.name}/samples", json.dumps(samples), qos=1).wait_for_publish(30)
    console.print(f"simulator: synced {history_weeks} weeks of runs for {size} runners; now running live")
    threads = [
        threading.Thread(target=_live, args=(client, runner, rng.uniform(0, 30), seed + i), daemon=True)
        for i, runner in enumerate(members)
    ]
    for thread in threads:
        thread.start()
    try:
        while any(thread.is_alive() for thread in threads):
            time.sleep(0.5)
    finally:
        client.loop_stop()
        client.disconnect()


def _live(client, runner: Runner, delay_s: float, seed: int) -> None:
    rng = random.Random(seed)
    time.sleep(delay_s)
    while True:
        km = runner.weekly_km / 4 * (1.4 if runner.overreaching else 1.0)
        start_ms = int(time.time() * 1000)
        last_m = 0.0
        for sample in run_samples(runner, start_ms, km, rng):
            sample["ts"] = int(time.time() * 1000)
            client.publish(f"footpod/{runner.name}/samples", json.dumps(sample), qos=1)
            last_m = sample["distance_m"]
            time.sleep(1.0)
        if rng.random() < 0.25:
            report = {
                "ts": int(time.time() * 1000),
                "score": rng.choice([1, 2, 3, 4, 5]),
                "timing": "after",
                "distance_m": round(last_m * rng.uniform(0.5, 0.9)),
            }
            client.publish(f"footpod/{runner.name}/pain", json.dumps(report), qos=1)
        time.sleep(rng.uniform(60, 300))
