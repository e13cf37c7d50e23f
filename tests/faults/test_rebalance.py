"""A second stream worker joins and leaves while a flood of live samples comes in (FAULTS.md row 10):
every rebalance moves partitions between the two, and each new owner reseeds its runners from the
store and the records not yet acknowledged. No sample counted twice, no gap (one whole run per runner
with all its samples and its distance), every partition served to its end.

The row asks for a join or leave every minute; here every `FOOTPOD_FAULTS_REBALANCE_EVERY_S` (16 s)
over `FOOTPOD_FAULTS_FLOOD_S` (64 s) of flood."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from tests.faults.fault_ledger import Ledger, Publisher, Result
from tests.faults.pipeline import FAST, start_pipeline, wait_until
from tests.integration.stack import ROSTER

RUNNERS = 100
FLOOD_S = float(os.environ.get("FOOTPOD_FAULTS_FLOOD_S", "64"))
EVERY_S = float(os.environ.get("FOOTPOD_FAULTS_REBALANCE_EVERY_S", "16"))


def lag(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """Records of each partition the group has not committed yet. The end of each partition is read,
    not asked for: Tansu's ListOffsets answers the base offset of the last batch plus one."""

    async def read() -> dict[int, int]:
        partitions = [TopicPartition(topic, p) for p in range(int(FAST["FOOTPOD_KAFKA_PARTITIONS"]))]
        reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
        group_view = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await reader.start()
        await group_view.start()
        try:
            reader.assign(partitions)
            ends = {tp: 0 for tp in partitions}
            while batches := await reader.getmany(timeout_ms=2000):
                for tp, records in batches.items():
                    ends[tp] = max(ends[tp], records[-1].offset + 1)
            return {tp.partition: ends[tp] - (await group_view.committed(tp) or 0) for tp in partitions}
        finally:
            await reader.stop()
            await group_view.stop()

    return asyncio.run(read())


def assigned(log: str) -> set[int]:
    """Partitions of footpod.samples the stream worker reported assigned in its log."""
    found: set[int] = set()
    for spec in re.findall(r"partitions assigned: footpod\.samples \[([^\]]*)\]", log):
        found.update(int(part) for part in spec.split(",") if part.strip())
    return found


def test_row10_a_stream_worker_joining_and_leaving_during_a_flood_counts_once_without_gaps(tmp_path):
    stack = start_pipeline(tmp_path, ROSTER)
    ledger = Ledger("10 second stream worker joins/leaves", tmp_path)
    second_log = tmp_path / "logs" / "stream-2.log"
    second = None
    changes = 0
    try:
        publisher = Publisher(stack.mqtt_port, ledger, runners=RUNNERS, seconds=FLOOD_S, prefix="f")
        publisher.start()
        at = EVERY_S / 4
        while at < FLOOD_S - EVERY_S / 2:
            time.sleep(max(0.0, publisher.started_ms / 1000 + at - time.time()))
            if second is None:
                second = subprocess.Popen(
                    [sys.executable, "-m", "monitor.cli", "-l", "info", "stream"],
                    env=stack.env,
                    stdout=second_log.open("ab"),
                    stderr=subprocess.STDOUT,
                )
            else:
                second.terminate()  # a graceful leave: the group rebalances at once
                second.wait(30)
                second = None
            changes += 1
            at += EVERY_S
        unacked = publisher.finish()
        sent = Counter(device for device, _ in ledger.sent)

        def by_device() -> Counter:
            stored: Counter = Counter()
            for run in stack.final_runs():
                stored[run["device"]] += run["samples"]
            return stored

        wait_until(lambda: by_device() == sent, 90)
        runs = [r for r in stack.final_runs() if r["device"] in sent]
        stored = by_device()
        lost = sum(max(0, sent[d] - stored[d]) for d in sent)
        double = sum(max(0, stored[d] - sent[d]) for d in stored)
        runs_per_device = Counter(r["device"] for r in runs)
        gaps = sum(n - 1 for n in runs_per_device.values() if n > 1) + sum(1 for d in sent if d not in runs_per_device)
        km_off = sum(1 for r in runs if abs(r["km"] - (sent[r["device"]] - 1) * 3.0 / 1000) > 1e-3)
        behind = lag(stack.kafka_bootstrap, "footpod-stream", "footpod.samples")
        served_by_second = assigned(second_log.read_text(errors="replace"))
        result = Result(
            "10 stream worker joins/leaves",
            len(ledger.sent),
            lost,
            double,
            notes={
                "changes": changes,
                "gaps": gaps,
                "km_off": km_off,
                "unacked": unacked,
                "uncommitted": sum(behind.values()),
                "partitions": len(behind),
                "second_served": sorted(served_by_second),
            },
        )
        result.passed = (
            lost == double == gaps == km_off == 0
            and len(behind) > 1
            and not any(behind.values())
            and bool(served_by_second)
        )
        (tmp_path / "ledger.json").write_text(json.dumps({"sent": sorted(ledger.sent), "stored": stored}))
        ledger.publish_result(result)
        assert (lost, double, gaps, km_off) == (0, 0, 0, 0), result
        assert len(behind) > 1 and not any(behind.values()), f"partitions not served to their end: {behind}"
        assert served_by_second, "the second worker was never given a partition"
    finally:
        if second is not None and second.poll() is None:
            second.terminate()
            second.wait(30)
        stack.stop_all()
