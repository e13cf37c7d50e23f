"""The ledger of a fault test: what the publishers sent, what arrived, and the numbers.

"Lost" = samples sent (device, ts) minus distinct samples that arrived; "double" = samples that
arrived more than once with different content, which dedup by (device, ts) cannot undo;
"redelivered" = exact repeats (MQTT at-least-once), which the stream's dedup removes. Each test
writes its ledger and result as JSON next to its tmp dir, so "lost 0" is a count, not a claim.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from aiokafka import AIOKafkaConsumer

RESULTS: list[Result] = []  # read by the conftest's terminal summary


def now_ms() -> int:
    return int(time.time() * 1000)


def p99(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


@dataclass
class Result:
    row: str
    sent: int
    lost: int
    double: int
    redelivered: int = 0
    p99_ms: float | None = None
    passed: bool = False
    notes: dict = field(default_factory=dict)


class Ledger:
    """(device, ts) -> publish time in ms, for every sample a publisher handed to its client."""

    def __init__(self, row: str, directory: Path):
        self.row, self.directory = row, directory
        self.sent: dict[tuple[str, int], int] = {}
        self.lock = threading.Lock()

    def record(self, device: str, ts: int, published_ms: int) -> None:
        with self.lock:
            self.sent[(device, ts)] = published_ms

    def settle(self, arrivals: KafkaTail, timeout_s: float = 60) -> None:
        """Wait until every sent sample has arrived, or the timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not set(self.sent) <= arrivals.keys():
            time.sleep(0.25)

    def result(self, arrivals: KafkaTail, *, since_ms: int | None = None, **notes) -> Result:
        """The numbers; p99 hand-off latency over samples published at or after `since_ms`."""
        with self.lock:
            sent = dict(self.sent)
        seen = arrivals.by_key()
        lost = sum(1 for key in sent if key not in seen)
        double = sum(1 for key, copies in seen.items() if key in sent and len(set(c[1] for c in copies)) > 1)
        redelivered = sum(len(copies) - 1 for key, copies in seen.items() if key in sent)
        latencies = [
            seen[key][0][0] - published
            for key, published in sent.items()
            if key in seen and (since_ms is None or published >= since_ms)
        ]
        result = Result(self.row, len(sent), lost, double, redelivered, p99(latencies), notes=notes)
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "ledger.json").write_text(
            json.dumps(
                [
                    {"device": d, "ts": ts, "published_ms": ms, "arrived": (d, ts) in seen}
                    for (d, ts), ms in sorted(sent.items())
                ]
            )
        )
        return result

    def publish_result(self, result: Result) -> Result:
        (self.directory / "result.json").write_text(json.dumps(asdict(result), indent=1))
        RESULTS.append(result)
        return result


class Publisher(threading.Thread):
    """`runners` runners sending one QoS 1 sample each per second for `seconds`, as phones do:
    a persistent session, so what is in flight survives a broker restart."""

    def __init__(
        self, port: int, ledger: Ledger, runners: int, seconds: float, rate_hz: float = 1.0, prefix: str = "r"
    ):
        super().__init__(daemon=True)
        self.ledger, self.runners, self.seconds, self.rate_hz, self.prefix = ledger, runners, seconds, rate_hz, prefix
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:12]}", clean_session=False
        )
        self.client.max_inflight_messages_set(200)
        self.client.reconnect_delay_set(min_delay=0.2, max_delay=1)
        # PUBACKs counted here: a message published while disconnected says "no connection" in
        # its info, yet paho keeps it and sends it on reconnect
        self.acked: set[int] = set()
        self.client.on_publish = lambda client, userdata, mid, reason_code, properties: self.acked.add(mid)
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        self.infos: list[mqtt.MQTTMessageInfo] = []
        self.started_ms = now_ms()
        self.ticks: list[int] = []  # wall ms of each tick

    def run(self) -> None:
        start = time.monotonic()
        self.started_ms = now_ms()
        base = self.started_ms - 1000
        tick = 0
        while tick < self.seconds * self.rate_hz:
            self.ticks.append(now_ms())
            ts = base + int(tick * 1000 / self.rate_hz)
            for i in range(self.runners):
                runner = f"{self.prefix}{i}"
                sample = {"ts": ts, "device_id": f"pod-{runner}", "cadence_spm": 170.0, "distance_m": tick * 3.0}
                self.ledger.record(f"pod-{runner}", ts, now_ms())
                self.infos.append(self.client.publish(f"footpod/{runner}/samples", json.dumps(sample), qos=1))
            tick += 1
            time.sleep(max(0.0, start + tick / self.rate_hz - time.monotonic()))

    def finish(self, timeout_s: float = 60) -> int:
        """Wait for the broker's acknowledgements; the number still unacknowledged."""
        self.join()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not all(info.mid in self.acked for info in self.infos):
            time.sleep(0.1)
        unacked = sum(1 for info in self.infos if info.mid not in self.acked)
        self.client.loop_stop()
        self.client.disconnect()
        return unacked


class KafkaTail(threading.Thread):
    """Reads footpod.samples and footpod.deadletter from the start, as they come."""

    def __init__(self, bootstrap: str):
        super().__init__(daemon=True)
        self.bootstrap = bootstrap
        self.samples: dict[tuple[str, int], list[tuple[int, str]]] = {}  # key -> [(hand-off ms, content)]
        self.dead_letters: list[dict] = []
        self.largest_record = 0  # bytes of the largest record value seen
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self._halt = threading.Event()
        self.start()
        assert self.ready.wait(30), "the Kafka consumer did not start"

    def run(self) -> None:
        asyncio.run(self._read())

    async def _read(self) -> None:
        consumer = AIOKafkaConsumer(
            "footpod.samples",
            "footpod.deadletter",
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
        )
        await consumer.start()
        self.ready.set()
        try:
            while not self._halt.is_set():
                batches = await consumer.getmany(timeout_ms=200)
                with self.lock:
                    for partition, records in batches.items():
                        for record in records:
                            self._take(partition.topic, record)
        finally:
            await consumer.stop()

    def _take(self, topic: str, record) -> None:
        self.largest_record = max(self.largest_record, len(record.value))
        if topic == "footpod.deadletter":
            self.dead_letters.append(json.loads(record.value))
            return
        for batch in json.loads(record.value):  # the bridge packs a partition's batches into one record
            for sample in batch["samples"]:
                key = (sample["device_id"], sample["ts"])
                self.samples.setdefault(key, []).append((record.timestamp, json.dumps(sample, sort_keys=True)))

    def keys(self) -> set[tuple[str, int]]:
        with self.lock:
            return set(self.samples)

    def by_key(self) -> dict[tuple[str, int], list[tuple[int, str]]]:
        with self.lock:
            return {key: list(copies) for key, copies in self.samples.items()}

    def dead(self) -> list[dict]:
        with self.lock:
            return list(self.dead_letters)

    def close(self) -> None:
        self._halt.set()
        self.join(10)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
