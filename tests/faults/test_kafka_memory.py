"""The local Kafka's memory over a compressed club day (FAULTS.md row 16): Tansu keeps every record
in memory, so the local stack restarts it empty once every consumed record is committed
(monitor/kafka_recycle.py). Its RSS drops back, and nothing is lost or counted twice across the
recycle, which happens mid-flood.

The row's run is 2 h at 20x for 50 runners; here `FOOTPOD_FAULTS_CLUB_S` (40 s) at 5x; a longer
run by hand: `.venv/bin/python -m bench.tansu_rss` (README, "Under faults")."""

from __future__ import annotations

import json
import os
import time
from collections import Counter

from monitor.kafka_recycle import recycle
from tests.faults.fault_ledger import Ledger, Publisher, Result, rss_kib
from tests.faults.pipeline import FAST, start_pipeline, wait_until
from tests.integration.stack import ROSTER

RUNNERS = 50
RATE_HZ = 5.0  # 250 samples a second: what the stream keeps up with on 2 shared cores
CLUB_S = float(os.environ.get("FOOTPOD_FAULTS_CLUB_S", "40"))


def test_row16_the_local_kafka_restarted_empty_once_all_is_committed_loses_nothing(tmp_path):
    stack = start_pipeline(tmp_path, ROSTER)
    ledger = Ledger("16 Tansu recycled mid-flood", tmp_path)
    try:
        kafka = stack.running["kafka"]
        rss_start = rss_kib(kafka.process.pid)
        publisher = Publisher(stack.mqtt_port, ledger, runners=RUNNERS, seconds=CLUB_S, rate_hz=RATE_HZ, prefix="c")
        publisher.start()
        time.sleep(CLUB_S / 2)
        rss_before = rss_kib(kafka.process.pid)
        started = time.monotonic()
        done = recycle(
            kafka,
            stack.kafka_bootstrap,
            int(FAST["FOOTPOD_KAFKA_PARTITIONS"]),
            stack.stages,
            stack.restart_stage,
            drain_timeout_s=60,
        )
        pause_s = time.monotonic() - started
        rss_after = rss_kib(kafka.process.pid)
        unacked = publisher.finish()
        sent = Counter(device for device, _ in ledger.sent)

        def by_device() -> Counter:
            stored: Counter = Counter()
            for run in stack.final_runs():
                stored[run["device"]] += run["samples"]
            return stored

        wait_until(lambda: by_device() == sent, 120)
        stored = by_device()
        rss_end = rss_kib(kafka.process.pid)
        lost = sum(max(0, sent[d] - stored[d]) for d in sent)
        double = sum(max(0, stored[d] - sent[d]) for d in stored)
        runs = Counter(r["device"] for r in stack.final_runs())
        result = Result(
            "16 Tansu recycled mid-flood",
            len(ledger.sent),
            lost,
            double,
            notes={
                "recycled": done,
                "pause_s": round(pause_s, 1),
                "unacked": unacked,
                "rss_start_mib": round(rss_start / 1024),
                "rss_before_mib": round(rss_before / 1024),
                "rss_after_mib": round(rss_after / 1024),
                "rss_end_mib": round(rss_end / 1024),
                "runs_split": sum(1 for n in runs.values() if n > 1),
            },
        )
        result.passed = done and lost == double == 0 and rss_after < rss_before
        (tmp_path / "ledger.json").write_text(json.dumps({"sent": sorted(ledger.sent), "stored": stored}))
        ledger.publish_result(result)
        assert done, "the recycle was called off"
        assert (lost, double) == (0, 0), result
        assert rss_after < rss_before, result
    finally:
        stack.stop_all()
