"""Issue 14 side by side: the floor, a hand-rolled loop, the pipeline's sync flood, live runners,
memory per runner, and two stream workers against one.

    make bench                                   # the default, bounded run (a few minutes)
    .venv/bin/python bench/suite.py --live-runners 5000 --live-s 300   # the 5-minute live run
    .venv/bin/python bench/suite.py --only flood,live                  # some parts only
    .venv/bin/python bench/suite.py --only live --live-runners 1000 --live-s 40 --live-history-weeks 0

Every part runs on servers this script starts on free ports (`monitor.servers`) and prints its
numbers; a table at the end puts them side by side. Nothing is asserted (a benchmark, not a test):
"lost", "double" and "statuses right" are counts read back from the store and the broker.

- floor: one paho subscriber decoding each message with orjson, nothing else; the rate at which
  samples can be received at all.
- hand-rolled: paho -> orjson -> line protocol -> InfluxDB `/write` in 5,000-line batches, acks
  at once (no dedup, no runs, no loads): what a minimal loop manages.
- flood: `footpod-monitor` bridge + stream + alerts; runners sync one 10 km run each (1 s
  samples, 500 per message); timed until every runner's retained status shows its whole run and
  the store holds every sample once.
- live: runners at 1 Hz, each sample's `ts` its publish time; latency = arrival of a status at a
  subscriber minus the `as_of` of the status (the newest sample it reflects). Live statuses are
  paced (CONTRACT.md: every 10 s during a run) by a 1 s timer, so a status released by the timer
  carries up to 1 s of that pace on top of the pipeline. Each runner first gets
  `--live-history-weeks` of runs in the store (`bench/live_history.py`); the samples go out
  through `bench/loadgen.py` (QoS 1 over plain sockets, a few µs a message, PUBACKs counted), or
  through paho clients with `--live-paho` (about 180 µs a message: to compare).
- memory: RSS growth of a process holding 10,000 runners with 10 weeks of runs each, as the
  stream worker (states) and the alert worker (recent runs) hold them.
- scale: the flood again with two stream worker processes in one consumer group.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import orjson
import paho.mqtt.client as mqtt
import psutil
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.histogram import stage_delays  # noqa: E402
from bench.live_history import history_lines, read_back, write_history  # noqa: E402
from bench.loadgen import Connection, LiveLoad, topic_prefix  # noqa: E402
from monitor import servers  # noqa: E402

PER_MESSAGE = 500
WAIT_S = 120  # live: longest wait for the runners to be known, and for the store to catch up after
RUN_KM = 10.0
SPEED_MPS = 3.0
BASE_DAYS_AGO = 3
TICK_S = 0.01  # live: the publishers' tick
# live: runners sharing one MQTT connection of the load generator. Each connection costs a `sendall`
# a tick, and on this machine a loopback `sendall` costs tens of µs of CPU whatever its size, so
# few connections; Mosquitto then reads several publishes at once, which flatters its own share
# (real runners each have their own connection). paho's clients (`--live-paho`) keep 500 each.
RUNNERS_PER_CONNECTION = 2500
RUNNERS_PER_PAHO_CLIENT = 500
CADENCE_SPM = 172  # live: every sample's cadence, and the history's
STAGE_DONE = {  # what each stage's live delay runs until (`footpod.metrics.LIVE_DELAY`)
    "bridge": "the bridge has it in Kafka",
    "stream": "the stream has counted it",
    "alerts": "the alert worker has decided on it",
}
IDLE_S = 5.0  # live: the stack's CPU at rest is measured this long before the load starts
console = Console()


# --------------------------------------------------------------------------- payloads


def run_payloads(
    prefix: str, runners: int, topic: str = "footpod/{runner}/samples"
) -> tuple[list[tuple[str, bytes]], int]:
    """Each runner's one 10 km run at 1 Hz, in messages of 500 samples: (topic, body), total samples."""
    base = int(time.time() * 1000) - BASE_DAYS_AGO * 86_400_000
    count = int(RUN_KM * 1000 / SPEED_MPS) + 1
    out, total = [], 0
    for r in range(runners):
        name = f"{prefix}{r}"
        start = base + r * 1000
        samples = [
            {
                "ts": start + i * 1000,
                "device_id": f"pod-{name}",
                "cadence_spm": 170 + i % 7,
                "distance_m": round(i * SPEED_MPS, 1),
                "speed_mps": SPEED_MPS,
            }
            for i in range(count)
        ]
        for k in range(0, count, PER_MESSAGE):
            out.append((topic.format(runner=name), orjson.dumps(samples[k : k + PER_MESSAGE])))
        total += count
    return out, total


def publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{time.time_ns()}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def publish_all(client: mqtt.Client, payloads: list[tuple[str, bytes]]) -> None:
    infos = [client.publish(topic, body, qos=1) for topic, body in payloads]
    for info in infos:
        info.wait_for_publish(300)


# --------------------------------------------------------------------------- floor and hand-rolled loop


def floor(port: int, payloads: list[tuple[str, bytes]], total: int) -> float:
    """Samples/s one paho subscriber receives and decodes (orjson), nothing else."""
    received = [0]
    done = threading.Event()
    first = [0.0]

    def on_message(client, userdata, message):
        if not first[0]:
            first[0] = time.perf_counter()
        received[0] += len(orjson.loads(message.payload))
        if received[0] >= total:
            done.set()

    sub = _subscriber(port, "bench/floor/#", on_message)
    client = publisher(port)
    start = time.perf_counter()
    publish_all(client, payloads)
    done.wait(300)
    elapsed = time.perf_counter() - start
    _stop(client, sub)
    return received[0] / elapsed


def handrolled(port: int, influx_port: int, payloads: list[tuple[str, bytes]], total: int) -> float:
    """paho -> orjson -> line protocol -> InfluxDB /write (5,000-line batches), until all written."""
    url = f"http://127.0.0.1:{influx_port}"
    httpx.post(f"{url}/query", data={"q": "CREATE DATABASE handrolled"})
    lines: list[str] = []
    lock = threading.Condition()
    written = [0]

    def on_message(client, userdata, message):
        runner = message.topic.split("/")[2]
        out = [
            f"cadence,runner={runner},device={s['device_id']} spm={s['cadence_spm']},"
            f"distance_m={s['distance_m']},speed_mps={s['speed_mps']} {s['ts']}"
            for s in orjson.loads(message.payload)
        ]
        with lock:
            lines.extend(out)
            lock.notify()

    def write_loop():
        with httpx.Client(timeout=60) as http:
            while written[0] < total:
                with lock:
                    while not lines:
                        lock.wait(1)
                    batch = lines[:5000]
                    del lines[:5000]
                http.post(
                    f"{url}/write", params={"db": "handrolled", "precision": "ms"}, content="\n".join(batch).encode()
                ).raise_for_status()
                written[0] += len(batch)

    writer = threading.Thread(target=write_loop, daemon=True)
    writer.start()
    sub = _subscriber(port, "bench/hand/#", on_message)
    client = publisher(port)
    start = time.perf_counter()
    publish_all(client, payloads)
    writer.join(300)
    elapsed = time.perf_counter() - start
    _stop(client, sub)
    return written[0] / elapsed


def _subscriber(port: int, topic: str, on_message, qos: int = 1) -> mqtt.Client:
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{time.time_ns()}")
    subscribed = threading.Event()
    sub.on_message = on_message
    sub.on_subscribe = lambda *args: subscribed.set()
    sub.on_connect = lambda client, *args: client.subscribe(topic, qos)
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    subscribed.wait(10)
    return sub


def _stop(*clients: mqtt.Client) -> None:
    for client in clients:
        client.loop_stop()
        client.disconnect()


# --------------------------------------------------------------------------- the pipeline


@dataclass
class Stack:
    data: Path
    mqtt_port: int
    kafka_port: int
    influx_port: int
    stages: dict[str, list[subprocess.Popen]] = field(default_factory=dict)
    servers: dict[str, int] = field(default_factory=dict)  # Mosquitto, Tansu, InfluxDB: name -> pid
    metrics_ports: dict[str, int] = field(default_factory=dict)  # each stage's first process: its /metrics

    def env(self, data_dir: Path) -> dict[str, str]:
        return {
            **os.environ,
            "FOOTPOD_MQTT_URL": f"mqtt://127.0.0.1:{self.mqtt_port}",
            "FOOTPOD_KAFKA_URL": f"kafka://127.0.0.1:{self.kafka_port}",
            "FOOTPOD_INFLUX_URL": f"http://127.0.0.1:{self.influx_port}",
            "FOOTPOD_DATA_DIR": str(data_dir),
            "PYTHONPATH": str(ROOT),
        }

    def start(self, stage: str) -> None:
        """One more process of a stage (a second stream worker joins the consumer group)."""
        index = len(self.stages.get(stage, []))
        data_dir = self.data if index == 0 else self.data / f"{stage}{index}"
        (self.data / "logs").mkdir(parents=True, exist_ok=True)
        ready = data_dir / "run" / f"{stage}.ready"
        ready.unlink(missing_ok=True)
        metrics_port = servers.free_port() if index == 0 else 0
        if index == 0:
            self.metrics_ports[stage] = metrics_port
        process = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", stage],
            env={**self.env(data_dir), "FOOTPOD_METRICS_PORT": str(metrics_port)},
            cwd=ROOT,
            stdout=(self.data / "logs" / f"{stage}{index}.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.stages.setdefault(stage, []).append(process)
        deadline = time.monotonic() + 120
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{stage} did not start; see {self.data / 'logs'}")
            time.sleep(0.2)

    def stop(self, stage: str) -> None:
        for process in self.stages.pop(stage, []):
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def live_delays(self) -> dict[str, dict[float, float]]:
        """Each stage's `footpod_live_delay_seconds` histogram as it stands: cumulative counts by bucket."""
        delays: dict[str, dict[float, float]] = {}
        for stage, port in self.metrics_ports.items():
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            for family in text_string_to_metric_families(text):
                if family.name != "footpod_live_delay_seconds":
                    continue
                for sample in family.samples:
                    if sample.name.endswith("_bucket"):
                        delays.setdefault(stage, {})[float(sample.labels["le"])] = sample.value
        return delays

    def pids(self) -> dict[str, list[int]]:
        return {stage: [p.pid for p in procs] for stage, procs in self.stages.items()}

    def query(self, influxql: str) -> list:
        response = httpx.get(
            f"http://127.0.0.1:{self.influx_port}/query", params={"db": "footpod", "q": influxql}, timeout=30
        )
        series = response.json()["results"][0].get("series") or []
        return [row for s in series for row in s["values"]]


def stored_samples(stack: Stack, prefix: str, since_ms: int = 0) -> int:
    """Samples in the runs of the runners named `prefix`… that start at `since_ms` or later."""
    rows = stack.query(f"SELECT sum(samples) FROM run WHERE runner =~ /^{prefix}/ AND time >= {since_ms}ms")
    return int(rows[0][1]) if rows else 0


class Statuses:
    """Retained statuses as they arrive: the latest per runner and each one's latency."""

    def __init__(self, port: int, topic: str):
        self.latest: dict[str, dict] = {}
        self.count: dict[str, int] = {}  # statuses of each runner, retained ones included
        self.latencies: list[float] = []
        self.record = False
        self.since = 0.0  # statuses of samples before this (the warm-up's) are not timed
        self.lock = threading.Lock()
        self.client = _subscriber(port, topic, self._on_message, qos=0)

    def _on_message(self, client, userdata, message):
        now = time.time()
        status = orjson.loads(message.payload)
        with self.lock:
            self.latest[status["runner"]] = status
            self.count[status["runner"]] = self.count.get(status["runner"], 0) + 1
            if self.record and not message.retain:
                as_of = datetime.fromisoformat(status["as_of"].replace("Z", "+00:00")).timestamp()
                if as_of >= self.since:
                    self.latencies.append(now - as_of)

    def close(self) -> None:
        _stop(self.client)


def flood(stack: Stack, prefix: str, runners: int, timeline_every: float = 0.0) -> dict:
    """Synced runs through the pipeline until every status shows its whole run; samples/s."""
    payloads, total = run_payloads(prefix, runners)
    statuses = Statuses(stack.mqtt_port, "status/#")
    client = publisher(stack.mqtt_port)
    cpu = CpuMeter(stack)
    start = time.perf_counter()
    publish_all(client, payloads)
    published_s = time.perf_counter() - start
    expected_km = round(int(RUN_KM * 1000 / SPEED_MPS) * SPEED_MPS / 1000, 2)

    def right(name: str) -> bool:
        status = statuses.latest.get(name)
        run = (status or {}).get("last_run") or {}
        return abs((run.get("km") or 0) - expected_km) < 0.01 and abs(status["week_km"] - expected_km) < 0.01

    names = [f"{prefix}{r}" for r in range(runners)]
    deadline = time.monotonic() + 600
    timeline, next_look = [], 0.0
    while time.monotonic() < deadline:
        with statuses.lock:
            ok = sum(right(name) for name in names)
            seen = sum(name in statuses.latest for name in names)
        if ok == runners:
            break
        now = time.perf_counter() - start
        if timeline_every and now >= next_look:
            timeline.append((round(now, 1), stored_samples(stack, prefix), seen, ok))
            next_look = now + timeline_every
        time.sleep(0.05)
    if timeline:
        console.print("  (s, samples stored, runners with a status, statuses right):", timeline)
    elapsed = time.perf_counter() - start
    usage = cpu.stop()
    stored = _wait_count(stack, prefix, total, 30)
    _stop(client)
    statuses.close()
    return {
        "samples": total,
        "published_s": published_s,
        "seconds": elapsed,
        "rate": total / elapsed,
        "statuses_right": ok,
        "runners": runners,
        "stored": stored,
        "cpu": usage,
    }


def median_run(runs: list[dict]) -> dict:
    """The run of median rate (the lower middle of an even count), with every run's rate: a flood lasts
    a few seconds, and one stall of a process moves a single run's rate by a fifth."""
    ordered = sorted(runs, key=lambda run: run["rate"])
    return {**ordered[(len(ordered) - 1) // 2], "rates": [run["rate"] for run in runs]}


def _wait_count(stack: Stack, prefix: str, total: int, timeout_s: float, since_ms: int = 0) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        stored = stored_samples(stack, prefix, since_ms)
        if stored >= total or time.monotonic() > deadline:
            return stored
        time.sleep(0.5)


class CpuMeter:
    """CPU used between start and stop, in % of one core: each stage's processes, each server, this
    bench's own publishers and subscribers ("bench"), and whatever else ran on the machine ("other",
    all busy CPU less the parts named): a run disturbed by another program shows it there."""

    def __init__(self, stack: Stack):
        self.processes = {stage: [psutil.Process(pid) for pid in pids] for stage, pids in stack.pids().items()}
        self.processes.update({name: [psutil.Process(pid)] for name, pid in stack.servers.items()})
        self.processes["bench"] = [psutil.Process()]
        self.before = {stage: self._cpu(procs) for stage, procs in self.processes.items()}
        self.machine = self._busy()
        self.started = time.perf_counter()

    @staticmethod
    def _busy() -> float:
        times = psutil.cpu_times()
        return sum(times) - times.idle - getattr(times, "iowait", 0.0)

    @staticmethod
    def _cpu(procs) -> float:
        total = 0.0
        for proc in procs:
            times = proc.cpu_times()
            total += times.user + times.system
        return total

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.started
        usage = {stage: (self._cpu(procs) - self.before[stage]) / wall * 100 for stage, procs in self.processes.items()}
        usage["other"] = max(0.0, (self._busy() - self.machine) / wall * 100 - sum(usage.values()))
        return usage


def live(
    stack: Stack, prefix: str, runners: int, seconds: float, history_weeks: int = 10, paho_load: bool = False
) -> dict:
    """Runners at 1 Hz, samples stamped at publish; latency of the statuses they cause.

    Each runner first gets `history_weeks` of runs written to the store as the stream leaves them
    (`bench/live_history.py`), then is made known by one earlier sample: a worker's first sight of
    a runner reads its history from the store, which is start-up, not live, cost; how long that took
    is reported apart. The live samples go out through `bench/loadgen.py` (one connection per
    `RUNNERS_PER_CONNECTION` runners, PUBACKs counted), or through paho clients with `paho_load`."""
    statuses = Statuses(stack.mqtt_port, "status/#")
    dropped = SysCounter(stack.mqtt_port, "$SYS/broker/publish/messages/dropped")
    names = [f"{prefix}{r}" for r in range(runners)]
    parts = max(1, runners // (RUNNERS_PER_PAHO_CLIENT if paho_load else RUNNERS_PER_CONNECTION))
    earlier = int(time.time() * 1000) - 2 * 86_400_000
    history_start = time.perf_counter()
    history_runs, history_read = 0, (0, 0)
    if history_weeks:
        lines = history_lines(names, history_weeks, earlier, CADENCE_SPM, SPEED_MPS)
        history_runs = write_history(f"http://127.0.0.1:{stack.influx_port}", "footpod", lines)
    history_s = time.perf_counter() - history_start
    if history_weeks:
        history_read = read_back(f"http://127.0.0.1:{stack.influx_port}", names[:100])
    if paho_load:
        clients = [publisher(stack.mqtt_port) for _ in range(parts)]
    else:
        connections = [
            Connection("127.0.0.1", stack.mqtt_port, f"bench-load-{p}-{time.time_ns()}") for p in range(parts)
        ]
    warm_start = time.perf_counter()
    batches: list[list[bytes]] = [[] for _ in range(parts)]
    for r, name in enumerate(names):
        body = orjson.dumps(
            [{"ts": earlier, "device_id": f"pod-{name}", "cadence_spm": CADENCE_SPM, "distance_m": 0.0}]
        )
        if paho_load:
            clients[r % parts].publish(f"footpod/{name}/samples", body, qos=1)
        else:
            batches[r % parts].append(connections[r % parts].packet(topic_prefix(f"footpod/{name}/samples"), body))
    if not paho_load:
        for connection, batch in zip(connections, batches, strict=True):
            connection.send(batch)
    deadline = time.monotonic() + WAIT_S  # bounded: a pipeline that cannot keep up is reported, not waited for
    while time.monotonic() < deadline and not all(name in statuses.latest for name in names):
        time.sleep(0.2)
    warm_s = time.perf_counter() - warm_start
    with statuses.lock:
        warm = [statuses.latest[name] for name in names if name in statuses.latest]
    # The warm-up's one-sample runs are judged whole 30 s after they arrive (RULES.md §1), each with a
    # final status: waited for here, so that judging them does not fall within the live load.
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and not all(statuses.count.get(name, 0) >= 2 for name in names):
        time.sleep(0.2)
    judged_s = time.perf_counter() - warm_start
    time.sleep(3)  # the warm-up's last writes settle
    idle = CpuMeter(stack)
    time.sleep(IDLE_S)
    idle_cpu = idle.stop()  # what the stack costs with nothing to do (Kafka consumers polling)
    published = [0]
    stop = threading.Event()
    distance = [0.0] * runners

    def sample(r: int, ts_ms: int) -> bytes:
        distance[r] += SPEED_MPS
        return orjson.dumps(
            {
                "ts": ts_ms,
                "device_id": f"pod-{names[r]}",
                "cadence_spm": CADENCE_SPM,
                "distance_m": round(distance[r], 1),
                "speed_mps": SPEED_MPS,
            }
        )

    def tick_loop(part: int):
        mine = range(part, runners, len(clients))
        client = clients[part]
        start = time.time() + 0.5
        second = 0
        while not stop.is_set():
            # spread each second's samples over the second, as independent runners would be, in ticks
            # of 10 ms: a sample due within the tick goes now (stamped now), so the bench sleeps at most
            # 100 times a second, not once per sample (sleeps cost the bench's own CPU)
            for r in mine:
                delay = start + second + r / runners - time.time()
                if delay > TICK_S:
                    time.sleep(delay)
                client.publish(f"footpod/{names[r]}/samples", sample(r, int(time.time() * 1000)), qos=1)
                published[0] += 1
            second += 1

    delays_before = stack.live_delays()
    statuses.since = time.time()
    statuses.record = True
    cpu = CpuMeter(stack)
    if paho_load:
        threads = [threading.Thread(target=tick_loop, args=(part,), daemon=True) for part in range(len(clients))]
    else:
        for connection in connections:
            connection.published = connection.acknowledged = 0  # the warm-up's are not the live load's
        load = LiveLoad(connections, names, sample, TICK_S)
        threads = [threading.Thread(target=load.run, args=(stop, time.time() + 0.5), daemon=True)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(30)
    usage = cpu.stop()
    statuses.record = False
    if not paho_load:
        if load.error:
            raise RuntimeError("the load generator failed") from load.error
        published[0] = load.published
    total = published[0] + runners  # the warm-up samples too
    behind_s = stored_samples(stack, prefix, earlier)
    unacknowledged = None if paho_load else sum(connection.drain(WAIT_S) for connection in connections)
    stored = _wait_count(stack, prefix, total, WAIT_S, earlier)
    delays = stage_delays(delays_before, stack.live_delays())
    time.sleep(11)  # $SYS topics are refreshed every 10 s
    latencies = sorted(statuses.latencies)
    if paho_load:
        _stop(*clients)
    else:
        for connection in connections:
            connection.close()
    statuses.close()
    dropped.close()
    return {
        "runners": runners,
        "seconds": seconds,
        "published": total,
        "stored": stored,
        "lost": total - stored,
        "stored_at_end": behind_s,
        "statuses": len(latencies),
        "warm_up_s": warm_s,
        "warm_up_judged_s": judged_s,
        "known": sum(name in statuses.latest for name in names),
        "history_weeks": history_weeks,
        "history_runs": history_runs,
        "history_s": history_s,
        "history_read": history_read,
        "history_seen": sum(
            s["week_km"] > 0 and s["prev_week_km"] > 0 and s["cadence_baseline_spm"] is not None for s in warm
        ),
        "warm_week_km": _pct(sorted(s["week_km"] for s in warm), 0.5),
        "warm_prev_week_km": _pct(sorted(s["prev_week_km"] for s in warm), 0.5),
        "p50": _pct(latencies, 0.5),
        "p99": _pct(latencies, 0.99),
        "max": latencies[-1] if latencies else None,
        "dropped": dropped.value,
        "load_generator": "paho" if paho_load else "loadgen",
        "load_us": None if paho_load else load.cpu_s / max(1, load.published) * 1e6,
        "unacknowledged": unacknowledged,
        "cpu": usage,
        "idle_cpu": idle_cpu,
        "stage_delays": delays,
    }


def live_cost(result: dict) -> dict[str, float]:
    """CPU µs per live sample of each part (stages, servers, the bench), from its CPU share in the live
    window above its share at rest, and the samples published in that window; an underestimate when
    the pipeline fell behind."""
    rate = (result["published"] - result["runners"]) / result["seconds"]
    idle = result["idle_cpu"]
    return {part: max(0.0, share - idle.get(part, 0.0)) / 100 / rate * 1e6 for part, share in result["cpu"].items()}


def _pct(values: list[float], q: float) -> float | None:
    return values[min(len(values) - 1, int(q * len(values)))] if values else None


class SysCounter:
    def __init__(self, port: int, topic: str):
        self.value: int | None = None

        def on_message(client, userdata, message):
            self.value = int(message.payload)

        self.client = _subscriber(port, topic, on_message, qos=0)

    def close(self) -> None:
        _stop(self.client)


# --------------------------------------------------------------------------- memory per runner


def memory(runners: int, weeks: int) -> dict:
    """RSS growth per runner of a fresh process holding `runners` runners' states (stream) and
    recent runs (alert worker) with `weeks` of four runs a week."""
    out = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).parent / "memory_per_runner.py"),
            "--runners",
            str(runners),
            "--weeks",
            str(weeks),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- main


def main() -> None:
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument(
        "--only", default="floor,hand,flood,live,memory,scale", help="the parts to run, comma-separated (default: all)"
    )
    parser.add_argument("--flood-runners", type=int, default=200)
    parser.add_argument("--live-runners", type=int, default=5000)
    parser.add_argument("--live-s", type=float, default=60.0, help="seconds of live load (300 for the long run)")
    parser.add_argument(
        "--live-history-weeks",
        type=int,
        default=10,
        help="weeks of runs (4 a week) each live runner has in the store before the load; 0: none",
    )
    parser.add_argument(
        "--live-paho",
        action="store_true",
        help="publish the live load with paho clients (as before bench/loadgen.py), to compare",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="runs each of the hand-rolled loop, the flood and the scale-out; the median reported, every rate listed",
    )
    parser.add_argument("--memory-runners", type=int, default=10_000)
    parser.add_argument("--memory-weeks", type=int, default=10)
    parser.add_argument("--timeline", type=float, default=0.0, help="print the flood's progress every so many s")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    results: dict[str, dict] = {}
    data = Path(tempfile.mkdtemp(prefix="footpod-bench-"))
    started = []
    try:
        if "memory" in parts:
            console.print(f"memory: {args.memory_runners:,} runners × {args.memory_weeks} weeks …")
            results["memory"] = memory(args.memory_runners, args.memory_weeks)
            console.print(results["memory"])
        if parts & {"floor", "hand", "flood", "live", "scale"}:
            started = [
                servers.mosquitto(data / "mosquitto", port=servers.free_port()).start(),
                servers.tansu(data, port=servers.free_port()).start(),
                servers.influxdb(data / "influxdb", port=servers.free_port()).start(),
            ]
        stack = Stack(data, *(server.port for server in started)) if started else None
        if stack:
            stack.servers = {server.name: server.process.pid for server in started}
        if "floor" in parts:
            payloads, total = run_payloads("f", args.flood_runners, "bench/floor/{runner}")
            results["floor"] = {"rate": floor(stack.mqtt_port, payloads, total), "samples": total}
            console.print(f"floor: {results['floor']['rate']:,.0f} samples/s")
        if "hand" in parts:
            rates = []
            for n in range(args.rounds):  # before the stages start: on a machine as quiet as for the floor
                payloads, total = run_payloads(f"h{n}-", args.flood_runners, "bench/hand/{runner}")
                rates.append(handrolled(stack.mqtt_port, stack.influx_port, payloads, total))
                console.print(f"hand-rolled loop, run {n + 1}: {rates[-1]:,.0f} samples/s")
            results["hand"] = {"rate": statistics.median(rates), "rates": rates, "samples": total}
        if parts & {"flood", "live", "scale"}:
            for stage in ("bridge", "stream", "alerts"):
                stack.start(stage)
        if "flood" in parts:
            results["flood"] = median_run(
                [flood(stack, f"flood{n}-", args.flood_runners, args.timeline) for n in range(args.rounds)]
            )
            console.print("flood:", results["flood"])
        if "live" in parts:
            results["live"] = live(
                stack, "live", args.live_runners, args.live_s, args.live_history_weeks, args.live_paho
            )
            console.print("live:", results["live"])
        if "scale" in parts:
            stack.start("stream")
            time.sleep(10)  # the group rebalances onto two members
            results["scale"] = median_run([flood(stack, f"scale{n}-", args.flood_runners) for n in range(args.rounds)])
            console.print("flood, two stream workers:", results["scale"])
    finally:
        if started:
            for stage in list(stack.stages):
                stack.stop(stage)
            for server in reversed(started):
                server.stop()
        console.print(f"logs: {data / 'logs'}")
    report(results, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def report(results: dict, args) -> None:
    table = Table(title=f"footpod-monitor speed ({os.cpu_count()} cores)")
    for column in ("measure", "value", "ratio / note"):
        table.add_column(column)
    hand = results.get("hand", {}).get("rate")
    if "floor" in results:
        table.add_row("floor: paho + orjson, samples/s", f"{results['floor']['rate']:,.0f}", "")
    runs = lambda rates: ", ".join(f"{rate / 1000:,.0f}k" for rate in rates)  # noqa: E731
    if hand:
        rates = results["hand"].get("rates", [hand])
        table.add_row(
            "hand-rolled paho→orjson→/write, samples/s", f"{hand:,.0f}", f"median of {len(rates)}: {runs(rates)}"
        )
    for key, name in (("flood", "flood, 1 stream worker"), ("scale", "flood, 2 stream workers")):
        r = results.get(key)
        if r:
            note = f"{r['rate'] / hand:.2f} × hand-rolled" if hand else ""
            if len(r.get("rates", [])) > 1:
                note += f" (median of {len(r['rates'])}: {runs(r['rates'])}"
                note += (
                    f"; each ÷ hand-rolled median: {', '.join(f'{x / hand:.2f}' for x in r['rates'])})" if hand else ")"
                )
            if key == "scale" and "flood" in results:
                note += f", {r['rate'] / results['flood']['rate']:.2f} × 1 worker"
            cpu = ", ".join(f"{k} {v:.0f} %" for k, v in r["cpu"].items())
            table.add_row(
                f"{name}, samples/s",
                f"{r['rate']:,.0f}",
                f"{note}; statuses right {r['statuses_right']}/{r['runners']}; "
                f"stored {r['stored']:,}/{r['samples']:,}; CPU {cpu}",
            )
    r = results.get("live")
    if r:
        cpu = ", ".join(f"{k} {v:.0f} %" for k, v in r["cpu"].items())
        headroom = os.cpu_count() * 100 - sum(r["cpu"].values())
        per_sample = live_cost(r)
        fmt = lambda v: f"{v * 1000:,.0f} ms" if v is not None else "-"  # noqa: E731
        table.add_row(
            f"live {r['runners']:,} runners × 1 Hz, {r['seconds']:.0f} s: status p50 / p99 / max",
            f"{fmt(r['p50'])} / {fmt(r['p99'])} / {fmt(r['max'])}",
            f"{r['statuses']:,} statuses; {r['known']:,} runners known after {r['warm_up_s']:.0f} s, their "
            f"warm-up runs judged whole after {r['warm_up_judged_s']:.0f} s; "
            f"{r['stored_at_end']:,} stored when publishing stopped; not stored {WAIT_S} s later "
            f"{r['lost']} of {r['published']:,}; mosquitto dropped {r['dropped']}; CPU {cpu} "
            f"(headroom {headroom:.0f} % of {os.cpu_count() * 100} %)",
        )
        if r.get("stage_delays"):
            table.add_row(
                "live: delay by stage, p50 / p99 (footpod_live_delay_seconds)",
                " · ".join(f"{fmt(d['p50'])} / {fmt(d['p99'])}" for d in r["stage_delays"].values()),
                "from a sample's timestamp until "
                + "; ".join(
                    f"{STAGE_DONE.get(stage, stage)}: {d['n']:,} observed" for stage, d in r["stage_delays"].items()
                )
                + " (interpolated within the histogram's buckets)",
            )
        if r["history_weeks"]:
            table.add_row(
                f"live: history, {r['history_weeks']} weeks × 4 runs a runner",
                f"{r['history_s']:.0f} s to write",
                f"{r['history_runs']:,} run points; read back as on first sight (the first 100 runners), the "
                f"stream seeds at least {r['history_read'][0]} runs a runner, the alert worker reads at least "
                f"{r['history_read'][1]}; {r['history_seen']:,}/{r['runners']:,} warm-up statuses show it "
                f"(week and previous week km, cadence baseline): median week {r['warm_week_km']} km, previous "
                f"{r['warm_prev_week_km']} km; runners known {r['warm_up_s']:.0f} s after their first sample",
            )
        if r["load_us"] is not None:
            table.add_row(
                "live: load generator (bench/loadgen.py), CPU per message",
                f"{r['load_us']:,.1f} µs",
                f"its thread only, {r['load_us'] * (r['published'] - r['runners']) / r['seconds'] / 1e4:.1f} % of a "
                f"core; unacknowledged publishes (no PUBACK {WAIT_S} s after the load) "
                f"{r['unacknowledged']:,} of {r['published'] - r['runners']:,}",
            )
        pipeline = sum(v for k, v in per_sample.items() if k not in ("bench", "other"))
        at_rest = sum(v for k, v in r["idle_cpu"].items() if k not in ("bench", "other"))
        table.add_row(
            "live: CPU per sample (valid while the pipeline keeps up)",
            f"{pipeline:,.0f} µs",
            ", ".join(f"{k} {v:,.0f} µs" for k, v in per_sample.items() if k != "other")
            + f"; at rest the stack uses {at_rest:.0f} % (Kafka consumers polling); at this cost the rest of "
            f"{os.cpu_count()} cores carries at most {(os.cpu_count() * 100 - at_rest) / 100 * 1e6 / pipeline:,.0f} "
            f"live samples/s, without the bench's own publishers ({r['load_generator']})",
        )
    r = results.get("memory")
    if r:
        table.add_row(
            f"memory, {r['runners']:,} runners × {r['weeks']} weeks: RSS per runner",
            f"{r['per_runner_kb']:.1f} KB",
            f"stream {r['stream_kb']:.1f} KB + alerts {r['alerts_kb']:.1f} KB",
        )
    console.print(table)


if __name__ == "__main__":
    main()
