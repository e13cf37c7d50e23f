"""The gateway loses nothing: the broker out of reach mid-run and the gateway killed -9 (FAULTS.md 17).

Twenty simulated pods at 20× speed publish through the real Mosquitto and the whole pipeline. The
broker is stopped for about 25 s; right after it is back, while the backlog goes out, the gateway
is killed with SIGKILL and started again. The ledger is what the gateway wrote to its outbox (each
pod's `seq` counter, kept in the same transaction as the samples); each of those samples must reach
the broker in event order and the store once.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt

PODS, SPEEDUP = 20, 20
LIVE_S, DOWN_S, AFTER_S = 10, 25, 12
READY_S, STORE_WAIT_S = 60, 90


class Ledger:
    """Every sample the broker delivered, per device, in arrival order (a persistent QoS 1 session)."""

    def __init__(self, port: int):
        self.arrivals: dict[str, list[dict]] = {}
        self.messages = 0
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="gateway-ledger", clean_session=False)
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        subscribed = threading.Event()
        self.client.on_connect = lambda c, *args: c.subscribe("footpod/+/samples", qos=1)
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.on_message = self.on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert subscribed.wait(10), "the ledger could not subscribe"

    def on_message(self, client, userdata, message) -> None:
        samples = json.loads(message.payload)
        with self.lock:
            self.messages += 1
            for sample in samples if isinstance(samples, list) else [samples]:
                self.arrivals.setdefault(sample["device_id"], []).append(sample)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def start_gateway(stack, tmp_path: Path) -> subprocess.Popen:
    ready = tmp_path / "run" / "gateway.ready"
    ready.unlink(missing_ok=True)
    log = (tmp_path / "gateway.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor.cli",
            "-l",
            "info",
            "gateway",
            "--simulate",
            str(PODS),
            "--speedup",
            str(SPEEDUP),
            "--outbox",
            str(tmp_path / "outbox.db"),
            "--client-id",
            "gateway-under-test",
            "--no-view",
        ],
        env={**stack.env, "FOOTPOD_DATA_DIR": str(tmp_path)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + READY_S
    while not ready.exists():
        assert process.poll() is None, (tmp_path / "gateway.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the gateway did not become ready"
        time.sleep(0.1)
    return process


def store_runs(stack) -> dict[str, tuple[int, float]]:
    """(samples counted, km) per device, summed over its runs, from the `run` points."""
    response = httpx.get(
        f"{stack.influx_url}/query",
        params={"db": "footpod", "q": "SELECT samples, km, device FROM run WHERE runner =~ /^sim/"},
    )
    response.raise_for_status()
    totals: dict[str, tuple[int, float]] = {}
    for series in response.json()["results"][0].get("series", []):
        for _, samples, km, device in series["values"]:
            count, total = totals.get(device, (0, 0.0))
            totals[device] = (count + samples, total + km)
    return totals


def read_outbox(path: Path) -> tuple[dict[str, int], int]:
    db = sqlite3.connect(path)
    try:
        seqs = dict(db.execute("SELECT device_id, next_seq FROM pods"))
        pending = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    finally:
        db.close()
    return seqs, pending


def wait_until(condition, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.5)
    return condition()


def test_a_gateway_without_its_broker_and_killed_once_loses_nothing(pipeline, tmp_path):
    broker = pipeline.running["mqtt"]
    ledger = Ledger(pipeline.mqtt_port)
    timeline = {}
    try:
        gateway = start_gateway(pipeline, tmp_path)
        time.sleep(LIVE_S)

        broker.stop()
        timeline["broker_down_at"] = time.time()
        time.sleep(DOWN_S)
        timeline["queued_while_down"] = read_outbox(tmp_path / "outbox.db")[1]
        broker.start()
        timeline["broker_back_at"] = time.time()
        seen = ledger.messages
        wait_until(lambda: ledger.messages > seen, 30)  # the backlog is going out
        gateway.send_signal(signal.SIGKILL)
        gateway.wait(10)
        timeline["killed_at"] = time.time()
        gateway = start_gateway(pipeline, tmp_path)
        time.sleep(AFTER_S)
        gateway.send_signal(signal.SIGTERM)  # a clean stop hands over what is queued
        assert gateway.wait(30) == 0

        enqueued, pending = read_outbox(tmp_path / "outbox.db")
        wait_until(
            lambda: all(len({s["seq"] for s in ledger.arrivals.get(d, [])}) >= n for d, n in enqueued.items()), 30
        )
        with ledger.lock:
            arrivals = {device: list(samples) for device, samples in ledger.arrivals.items()}
        expected = {device: expected_run(arrivals.get(device, [])) for device in enqueued}
        stored = wait_until(
            lambda: (lambda runs: runs if all(runs.get(d, (0, 0))[0] >= n for d, (n, _) in expected.items()) else None)(
                store_runs(pipeline)
            ),
            STORE_WAIT_S,
        ) or store_runs(pipeline)
    finally:
        ledger.close()
        if broker.process is None or broker.process.poll() is not None:
            broker.start()

    report = build_report(enqueued, pending, arrivals, expected, stored, timeline)
    (tmp_path / "ledger.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report["totals"]))
    totals = report["totals"]
    assert len(enqueued) == PODS
    assert totals["enqueued"] > PODS * (LIVE_S + DOWN_S + AFTER_S) * SPEEDUP * 0.5, totals
    assert timeline["queued_while_down"] > PODS * DOWN_S * SPEEDUP * 0.5, timeline  # the backlog was real
    assert totals["queued_at_the_end"] == 0, totals
    assert totals["lost_at_broker"] == 0, totals
    assert totals["out_of_order"] == 0, totals
    assert totals["lost_in_store"] == 0, totals
    assert totals["double_in_store"] == 0, totals
    assert totals["km_off"] < 0.01, totals


def expected_run(samples: list[dict]) -> tuple[int, float]:
    """(distinct samples, km) of one device's ledger: its odometer only grows, so km is last - first."""
    distinct = {s["seq"]: s for s in samples}
    if not distinct:
        return 0, 0.0
    ordered = [distinct[seq] for seq in sorted(distinct)]
    return len(ordered), (ordered[-1]["distance_m"] - ordered[0]["distance_m"]) / 1000


def build_report(enqueued, pending, arrivals, expected, stored, timeline) -> dict:
    devices = {}
    for device, count in sorted(enqueued.items()):
        got = arrivals.get(device, [])
        seqs = [s["seq"] for s in got]
        first_seen, out_of_order, highest = set(), 0, -1
        for seq in seqs:
            if seq in first_seen:
                continue
            first_seen.add(seq)
            out_of_order += seq < highest
            highest = max(highest, seq)
        store_samples, store_km = stored.get(device, (0, 0.0))
        devices[device] = {
            "enqueued": count,
            "delivered": len(seqs),
            "distinct": len(first_seen),
            "lost_at_broker": len(set(range(count)) - first_seen),
            "published_twice": len(seqs) - len(first_seen),
            "out_of_order": out_of_order,
            "store_samples": store_samples,
            "lost_in_store": max(expected[device][0] - store_samples, 0),
            "double_in_store": max(store_samples - expected[device][0], 0),
            "expected_km": round(expected[device][1], 4),
            "store_km": round(store_km, 4),
        }
    totals = {
        key: sum(d[key] for d in devices.values())
        for key in (
            "enqueued",
            "delivered",
            "lost_at_broker",
            "published_twice",
            "out_of_order",
            "lost_in_store",
            "double_in_store",
        )
    }
    totals["queued_at_the_end"] = pending
    totals["km_off"] = round(max((abs(d["store_km"] - d["expected_km"]) for d in devices.values()), default=0), 4)
    return {"timeline": timeline, "totals": totals, "devices": devices}
