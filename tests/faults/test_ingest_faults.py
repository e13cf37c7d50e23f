"""MQTT -> bridge -> Kafka under faults (FAULTS.md rows 2, 3, 4, 9, 13, 15): nothing lost, proven
by a ledger of every (device, ts) the publishers sent against what reached Kafka."""

from __future__ import annotations

import json
import os
import random
import signal
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.faults.fault_ledger import Ledger, Publisher, now_ms, p99, rss_kib

LIVE_P99_MS = 1_000  # FAULTS.md row 3: live p99 within 60 s of recovery


def at(publisher: Publisher, seconds: float) -> None:
    """Sleep until `seconds` after the publisher started."""
    time.sleep(max(0.0, publisher.started_ms / 1000 + seconds - time.time()))


def test_row2_a_bridge_killed_9_mid_flow_loses_nothing(ingest, arrivals, tmp_path):
    ledger = Ledger("2 bridge kill -9 (x2)", tmp_path)
    publisher = Publisher(ingest.mqtt_port, ledger, runners=50, seconds=20)
    publisher.start()
    for when in (6, 12):
        at(publisher, when)
        ingest.bridge.send_signal(signal.SIGKILL)
        ingest.bridge.wait(10)
        ingest.start_stage("bridge")  # same client id, persistent session: the broker kept the rest
        ingest.wait_ready("bridge")
    unacked = publisher.finish()
    ledger.settle(arrivals)
    result = ledger.result(arrivals, kills=2, unacked=unacked)
    result.passed = result.lost == 0 and result.double == 0 and unacked == 0
    ledger.publish_result(result)
    assert (result.lost, result.double, unacked) == (0, 0, 0), result


def test_row3_a_frozen_kafka_holds_messages_back_and_recovers_live(ingest, arrivals, tmp_path):
    ledger = Ledger("3 Kafka SIGSTOP 12 s", tmp_path)
    publisher = Publisher(ingest.mqtt_port, ledger, runners=50, seconds=36)
    publisher.start()
    at(publisher, 4)
    rss_before = rss_kib(ingest.bridge.pid)
    os.kill(ingest.kafka_server.process.pid, signal.SIGSTOP)
    peak = rss_before
    frozen_until = time.monotonic() + 12
    while time.monotonic() < frozen_until:
        peak = max(peak, rss_kib(ingest.bridge.pid))
        time.sleep(0.5)
    os.kill(ingest.kafka_server.process.pid, signal.SIGCONT)
    resumed_ms = now_ms()
    unacked = publisher.finish()
    ledger.settle(arrivals)
    alive = ingest.bridge.poll() is None
    # live again: samples published from 10 s after SIGCONT on
    result = ledger.result(
        arrivals,
        since_ms=resumed_ms + 10_000,
        rss_before_kib=rss_before,
        rss_peak_kib=peak,
        bridge_alive=alive,
        unacked=unacked,
    )
    result.passed = (
        result.lost == 0
        and result.double == 0
        and alive
        and unacked == 0
        and result.p99_ms is not None
        and result.p99_ms <= LIVE_P99_MS
    )
    ledger.publish_result(result)
    assert alive, "the bridge gave up while Kafka was frozen"
    assert (result.lost, result.double, unacked) == (0, 0, 0), result
    assert result.p99_ms is not None and result.p99_ms <= LIVE_P99_MS, result


def test_row4_a_graceful_mosquitto_restart_loses_nothing(ingest, arrivals, tmp_path):
    ledger = Ledger("4 Mosquitto graceful restart", tmp_path)
    publisher = Publisher(ingest.mqtt_port, ledger, runners=50, seconds=20)
    publisher.start()
    at(publisher, 6)
    ingest.restart_mosquitto()
    back_ms = now_ms()
    unacked = publisher.finish()
    ledger.settle(arrivals)
    handoffs = sorted(ms for copies in arrivals.by_key().values() for ms, _ in copies if ms >= back_ms)
    reconnect_ms = handoffs[0] - back_ms if handoffs else None
    result = ledger.result(arrivals, unacked=unacked, reconnect_ms=reconnect_ms)
    result.passed = result.lost == 0 and unacked == 0 and reconnect_ms is not None and reconnect_ms <= 3_000
    ledger.publish_result(result)
    assert (result.lost, unacked) == (0, 0), result
    # the first hand-off after the broker is back bounds the bridge's reconnect from above
    assert reconnect_ms is not None and reconnect_ms <= 3_000, result


def sys_dropped(port: int, listen_s: float = 11) -> int:
    """`$SYS/broker/publish/messages/dropped`: Mosquitto publishes it (retained) when it changes,
    at most every 10 s (`sys_interval`), so the last value seen within 11 s is the current one."""
    values: list[int] = []

    def on_message(client, userdata, message):
        values.append(int(message.payload))

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.subscribe("$SYS/broker/publish/messages/dropped")
    client.loop_start()
    time.sleep(listen_s)
    client.loop_stop()
    client.disconnect()
    assert values, "Mosquitto published no $SYS/broker/publish/messages/dropped"
    return values[-1]


def test_row9_a_paused_bridge_at_full_rate_makes_mosquitto_drop_nothing(ingest, arrivals, tmp_path):
    ledger = Ledger("9 bridge paused 20 s, 200/s", tmp_path)
    publisher = Publisher(ingest.mqtt_port, ledger, runners=200, seconds=28)
    publisher.start()
    at(publisher, 4)
    ingest.bridge.send_signal(signal.SIGSTOP)
    time.sleep(20)
    ingest.bridge.send_signal(signal.SIGCONT)
    unacked = publisher.finish()
    ledger.settle(arrivals)
    dropped = sys_dropped(ingest.mqtt_port)
    result = ledger.result(arrivals, broker_dropped=dropped, unacked=unacked)
    result.passed = result.lost == 0 and dropped == 0 and unacked == 0
    ledger.publish_result(result)
    assert (result.lost, dropped, unacked) == (0, 0, 0), result


def fuzz_payloads(now: int) -> list[tuple[str, bytes]]:
    """FAULTS.md row 13, every kind named there (and a pain report or two)."""
    rng = random.Random(13)
    good = {"ts": now, "device_id": "pod-m", "cadence_spm": 170, "distance_m": 10.0}

    def sample(**over) -> bytes:
        return json.dumps({**good, **over}).encode()

    return [
        ("arbitrary bytes", bytes(rng.getrandbits(8) for _ in range(512))),
        ("truncated JSON", sample()[:25]),
        ("NaN", b'{"ts": %d, "device_id": "pod-m", "cadence_spm": NaN, "distance_m": 1}' % now),
        ("Infinity", b'{"ts": %d, "device_id": "pod-m", "cadence_spm": 170, "distance_m": Infinity}' % now),
        ("true for a number", sample(cadence_spm=True)),
        ("string for a number", sample(distance_m="10")),
        ("bad UTF-8", b'{"ts": %d, "device_id": "pod-\xff\xfe", "cadence_spm": 1, "distance_m": 1}' % now),
        ("1 MB+ junk", b"x" * 1_200_000),
        ("1 MB+ string", sample(device_id="p" * 1_100_000)),
        ("ts 0", sample(ts=0)),
        ("ts negative", sample(ts=-1_000)),
        ("ts +10 years", sample(ts=now + 10 * 365 * 86_400_000)),
        ("ts past 9999", sample(ts=253_402_300_800_000)),
        ("ts 1e20", b'{"ts": 1e20, "device_id": "pod-m", "cadence_spm": 170, "distance_m": 1}'),
        ("nested 1000 deep", b"[" * 1000 + b"]" * 1000),
        ("nested 1000 deep object", b'{"a":' * 1000 + b"1" + b"}" * 1000),
        ("100,000 array of junk", b"[" + b",".join([b"1"] * 100_000) + b"]"),
        ("100,000 array of mixed junk", json.dumps([None, "x", 1.5, [], {}] * 20_000).encode()),
        ("pain: past 9999", json.dumps({"ts": 253_402_300_800_000, "score": 3}).encode()),
        ("pain: nested", b'{"ts":' * 1000 + b"}" * 1000),
    ]


def test_row13_fuzzed_payloads_are_dead_lettered_and_good_traffic_flows(ingest, arrivals, tmp_path):
    ledger = Ledger("13 fuzzed payloads", tmp_path)
    bridge_pid = ingest.bridge.pid
    publisher = Publisher(ingest.mqtt_port, ledger, runners=20, seconds=24)
    publisher.start()
    at(publisher, 6)
    fuzz_from_ms = now_ms()
    payloads = fuzz_payloads(now_ms())
    mallory = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="mallory")
    mallory.connect("127.0.0.1", ingest.mqtt_port)
    mallory.loop_start()
    for name, payload in payloads:
        kind = "pain" if name.startswith("pain") else "samples"
        mallory.publish(f"footpod/mallory/{kind}", payload, qos=1).wait_for_publish(30)
        time.sleep(0.3)
    mallory.loop_stop()
    mallory.disconnect()
    fuzz_to_ms = now_ms()
    unacked = publisher.finish()
    ledger.settle(arrivals)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(_mallory(arrivals.dead())) < len(payloads):
        time.sleep(0.25)
    dead = _mallory(arrivals.dead())
    with_reason = [d for d in dead if d["reason"].strip()]
    crashes = 0 if ingest.bridge.poll() is None else 1
    restarts = 0 if ingest.bridge.pid == bridge_pid else 1
    by_key = arrivals.by_key()
    before = [by_key[k][0][0] - ms for k, ms in ledger.sent.items() if k in by_key and ms < fuzz_from_ms]
    during = [by_key[k][0][0] - ms for k, ms in ledger.sent.items() if k in by_key and fuzz_from_ms <= ms <= fuzz_to_ms]
    result = ledger.result(
        arrivals,
        since_ms=fuzz_from_ms,
        fuzz_messages=len(payloads),
        dead_letters=len(dead),
        with_reason=len(with_reason),
        crashes=crashes,
        restarts=restarts,
        unacked=unacked,
        p99_before_ms=p99(before),
        p99_during_ms=p99(during),
    )
    (tmp_path / "dead_letters.json").write_text(
        json.dumps([{k: d[k] for k in ("topic", "reason")} for d in dead], indent=1)
    )
    result.passed = (
        crashes == 0
        and restarts == 0
        and result.lost == 0
        and unacked == 0
        and len(dead) == len(payloads)
        and len(with_reason) == len(payloads)
        and (result.p99_ms or 0) <= LIVE_P99_MS
    )
    ledger.publish_result(result)
    assert (crashes, restarts) == (0, 0), result
    assert len(dead) == len(with_reason) == len(payloads), [d["reason"][:80] for d in dead]
    assert (result.lost, result.double, unacked) == (0, 0, 0), result
    assert result.p99_ms is not None and result.p99_ms <= LIVE_P99_MS, result


def test_a_sync_of_5000_samples_with_long_ids_reaches_kafka_in_records_under_1_mb(ingest, arrivals, tmp_path):
    ledger = Ledger("13b 5,000 samples, long ids", tmp_path)
    device, run_id = "d" * 64, "r" * 128
    start = now_ms() - 6_000_000
    samples = [
        {
            "ts": start + i * 1000,
            "device_id": device,
            "cadence_spm": 171.5,
            "distance_m": i * 2.75,
            "speed_mps": 3.1,
            "seq": i,
            "run_id": run_id,
        }
        for i in range(5_000)
    ]
    payload = json.dumps(samples).encode()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", ingest.mqtt_port)
    client.loop_start()
    published = now_ms()
    for sample in samples:
        ledger.record(device, sample["ts"], published)
    client.publish("footpod/zoe/samples", payload, qos=1).wait_for_publish(30)
    client.loop_stop()
    client.disconnect()
    ledger.settle(arrivals, timeout_s=30)
    result = ledger.result(arrivals, message_bytes=len(payload), largest_record_bytes=arrivals.largest_record)
    result.passed = result.lost == 0 and arrivals.largest_record <= 1_000_000
    ledger.publish_result(result)
    assert result.lost == 0, result
    assert arrivals.largest_record <= 1_000_000, result  # Apache Kafka's default message.max.bytes


def _mallory(dead_letters: list[dict]) -> list[dict]:
    return [d for d in dead_letters if d["topic"].startswith("footpod/mallory/")]


def test_row15_an_intruder_with_the_bridges_public_id_gets_nothing_and_the_bridge_keeps_its_queue(
    ingest, arrivals, tmp_path
):
    ledger = Ledger("15 takeover, local (no auth)", tmp_path)
    publisher = Publisher(ingest.mqtt_port, ledger, runners=20, seconds=16)
    publisher.start()
    at(publisher, 3)
    ingest.bridge.send_signal(signal.SIGSTOP)  # its queue grows in the broker meanwhile
    received: list[str] = []
    for protocol, resume in ((mqtt.MQTTv311, False), (mqtt.MQTTv5, True)):
        received += _intrude(ingest.mqtt_port, "footpod-bridge", protocol, resume)
    ingest.bridge.send_signal(signal.SIGCONT)
    unacked = publisher.finish()
    ledger.settle(arrivals)
    result = ledger.result(arrivals, intruder_received=len(received), unacked=unacked)
    result.passed = result.lost == 0 and not received and ingest.bridge.poll() is None
    ledger.publish_result(result)
    assert received == []
    assert (result.lost, result.double, unacked) == (0, 0, 0), result


def _intrude(port: int, client_id: str, protocol: int, resume: bool, listen_s: float = 2.5) -> list[str]:
    """Connect with a service's client id (clean, or an MQTT 5 resume of its session) and listen."""
    received: list[str] = []
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=protocol,
        **({} if protocol == mqtt.MQTTv5 else {"clean_session": True}),
    )
    client.on_message = lambda c, u, message: received.append(message.topic)
    if protocol == mqtt.MQTTv5:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 3600
        client.connect("127.0.0.1", port, clean_start=not resume, properties=properties)
    else:
        client.connect("127.0.0.1", port)
    client.loop_start()
    time.sleep(listen_s)
    client.loop_stop()
    client.disconnect()
    return received
