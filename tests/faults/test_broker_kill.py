"""Mosquitto killed -9 while phones send live QoS 1 samples, then each phone re-syncs its run
(FAULTS.md row 5), on the whole pipeline: what Mosquitto had acknowledged but not yet saved
(`autosave_interval`) or handed on is gone after the kill; the re-sync at the run's end brings it
back, and every sample is then counted once.

The re-sync comes before the run is judged whole (here within `RESYNC_WITHIN_S` of the run's end;
30 s in production, FOOTPOD_RUN_SETTLE_S). A re-sync after that adds no sample to the sealed run
(streams/segments.py): its distance is already there, the device's distance being cumulative, so
`km` and the load are exact either way; only the run's sample count stays short."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter

from tests.faults.fault_ledger import KafkaTail, Ledger, Publisher, Result
from tests.faults.pipeline import Phone, start_pipeline, wait_until
from tests.integration.stack import ROSTER

RUNNERS = 250  # 5 s of them at 1 Hz outnumber the broker's 1,000 in flight to the bridge: some wait in its memory
SECONDS = 30
KILL_AT_S = 12
RESYNC_WITHIN_S = 15
LAG_S = 5  # the bridge paused before the kill, so Mosquitto holds messages in memory


def stored_by_device(stack) -> Counter:
    stored: Counter = Counter()
    for run in stack.final_runs():
        stored[run["device"]] += run["samples"]
    return stored


def test_row5_mosquitto_killed_9_then_a_resync_leaves_nothing_lost_or_double(tmp_path):
    stack = start_pipeline(tmp_path, ROSTER, FOOTPOD_RUN_SETTLE_S=str(RESYNC_WITHIN_S))
    stack.mqtt_autosave_s = 1800  # Mosquitto's default: a kill -9 loses what came since the last save
    stack.stop_server("mqtt")
    stack.start_server("mqtt")
    arrivals = KafkaTail(stack.kafka_bootstrap)
    ledger = Ledger("5 Mosquitto kill -9, re-sync", tmp_path)
    phone = None
    try:
        publisher = Publisher(stack.mqtt_port, ledger, runners=RUNNERS, seconds=SECONDS, prefix="m")
        publisher.start()
        time.sleep(max(0.0, publisher.started_ms / 1000 + KILL_AT_S - LAG_S - time.time()))
        bridge = stack.stages["bridge"]
        bridge.send_signal(signal.SIGSTOP)  # a lagging bridge: Mosquitto holds what it acknowledged
        time.sleep(LAG_S)
        stack.kill_server("mqtt")
        bridge.send_signal(signal.SIGCONT)
        stack.start_server("mqtt")  # same port, same persistence file
        unacked = publisher.finish()
        sent = Counter(device for device, _ in ledger.sent)
        time.sleep(2)  # the bridge hands on what the broker still had
        lost_before = len(set(ledger.sent) - arrivals.keys())  # never reached Kafka
        # the re-sync: each phone sends its whole run again, as one message
        phone = Phone(stack.mqtt_port)
        for device in sent:
            stamps = sorted(ts for d, ts in ledger.sent if d == device)
            samples = [
                {"ts": ts, "device_id": device, "cadence_spm": 170.0, "distance_m": (ts - stamps[0]) / 1000 * 3.0}
                for ts in stamps
            ]
            phone.sync(device.removeprefix("pod-"), samples)
        wait_until(lambda: stored_by_device(stack) == sent, 60)
        after = stored_by_device(stack)
        runs = [r for r in stack.final_runs() if r["device"] in sent]
        lost = sum(max(0, sent[d] - after[d]) for d in sent)
        double = sum(max(0, after[d] - sent[d]) for d in after)
        extra_runs = len(runs) - len(sent)
        km_off = sum(1 for r in runs if abs(r["km"] - (sent[r["device"]] - 1) * 3.0 / 1000) > 1e-3)
        result = Result(
            "5 Mosquitto kill -9, re-sync",
            len(ledger.sent),
            lost,
            double + max(0, extra_runs),
            notes={"lost_by_broker": lost_before, "unacked": unacked, "runs": len(runs), "km_off": km_off},
        )
        result.passed = lost == double == extra_runs == km_off == 0
        (tmp_path / "ledger.json").write_text(json.dumps({"sent": sorted(ledger.sent), "after": after}))
        ledger.publish_result(result)
        assert lost_before > 0, "the kill lost nothing: the re-sync was not put to the test"
        assert (lost, double, extra_runs, km_off) == (0, 0, 0, 0), result
    finally:
        if phone:
            phone.close()
        arrivals.close()
        stack.stop_all()
