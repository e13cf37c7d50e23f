"""The stream worker killed -9 again and again while phones sync (FAULTS.md row 1), on the whole
pipeline: every sample counted once, every run's load point and every runner's final status what a
run without faults gives (computed from the ledger of runs sent, not by the code under test), and
live samples back in a status within 20 s of each kill."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime

from footpod.contract import iso
from tests.faults.fault_ledger import Ledger, Publisher, Result, now_ms
from tests.faults.pipeline import Phone, start_pipeline, wait_until, watch
from tests.integration.stack import ROSTER
from tests.integration.training import daily_runs, monday_weeks_ago, run_km, trailing_km

RUNNERS = 10
WEEKS_KM = [14.0, 14.0]  # two weeks of daily 2 km runs: 667 samples a run
KILL_AT_S = (5, 13, 21)  # seconds into the sync
SYNC_S = 28  # the sync spread over this long, so the kills fall mid-sync
BACK_TO_LIVE_S = 20  # FAULTS.md row 1


def ms_of(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def test_row1_a_stream_worker_killed_9_mid_sync_counts_every_sample_once(tmp_path):
    stack = start_pipeline(tmp_path, ROSTER)
    watcher, client = watch(stack.mqtt_port, "status/#")
    phone = Phone(stack.mqtt_port)
    live_ledger = Ledger("1 live", tmp_path / "live")
    live = Publisher(stack.mqtt_port, live_ledger, runners=1, seconds=SYNC_S + 30, prefix="live")
    runs = {f"k{i}": daily_runs(f"pod-k{i}", monday_weeks_ago(2), WEEKS_KM) for i in range(RUNNERS)}
    try:
        live.start()
        queue = [
            (runner, samples) for day in range(len(runs["k0"])) for runner, rs in runs.items() for samples in [rs[day]]
        ]

        def sync():
            started = time.monotonic()
            for n, (runner, samples) in enumerate(queue):
                time.sleep(max(0.0, started + n * SYNC_S / len(queue) - time.monotonic()))
                phone.sync(runner, samples)

        syncing = threading.Thread(target=sync, daemon=True)
        t0 = time.monotonic()
        syncing.start()
        back_to_live_ms = []
        for at in KILL_AT_S:
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            killed_ms = now_ms()
            stack.kill_stage("stream")
            stack.restart_stage("stream", wait=False)
            # back to live: a status of the live runner, from a sample published after the kill
            seen = wait_until(
                lambda killed_ms=killed_ms: [
                    at_ms
                    for at_ms, s in watcher.since(killed_ms, "status/live0")
                    if s["live"] and ms_of(s["as_of"]) > killed_ms
                ],
                60,
                0.2,
            )
            back_to_live_ms.append(seen[0] - killed_ms if seen else None)
        syncing.join(120)
        sent_samples = sum(len(s) for rs in runs.values() for s in rs)

        def counted():
            stored = [r for r in stack.final_runs() if r["runner"] in runs]
            return stored if sum(r["samples"] for r in stored) >= sent_samples else None

        wait_until(counted, 120)
        live.join()
        time.sleep(6)  # the last verdicts reach the alert worker and the store
        stored = [r for r in stack.final_runs() if r["runner"] in runs]
        by_run = {(r["runner"], r["time"]): r for r in stored}
        lost = double = 0
        km_off = 0
        for runner, rs in runs.items():
            for samples in rs:
                got = by_run.get((runner, samples[0]["ts"]))
                have = got["samples"] if got else 0
                lost += max(0, len(samples) - have)
                double += max(0, have - len(samples))
                km_off += got is None or abs(got["km"] - run_km(samples)) > 1e-3
        extra_runs = len(stored) - sum(len(rs) for rs in runs.values())
        # the `load` series: one point at each run's end, the trailing 7 days of the ledger's runs
        loads = {(p["runner"], p["time"]): p["week_km"] for p in stack.points("load", '"week_km", "runner"')}
        load_wrong = load_missing = 0
        for runner, rs in runs.items():
            for samples in rs:
                end = samples[-1]["ts"]
                if (runner, end) not in loads:
                    load_missing += 1
                elif abs(loads[(runner, end)] - trailing_km(rs, end, 7, 0)) > 0.01:
                    load_wrong += 1
        # the final status: every runner's last run and week as a run without faults gives them
        status_wrong = 0
        for runner, rs in runs.items():
            final = [s for _, s in watcher.since(0, f"status/{runner}") if not s["live"]][-1]
            as_of = ms_of(final["as_of"])
            status_wrong += (
                final["last_run"]["end"] != iso(rs[-1][-1]["ts"])
                or abs(final["week_km"] - trailing_km(rs, as_of, 7, 0)) > 0.01
            )
        live_ms = [ms for ms in back_to_live_ms if ms is not None]
        result = Result(
            "1 stream kill -9 x3 mid-sync",
            sent_samples,
            lost,
            double + max(0, extra_runs),
            notes={
                "runs": len(stored),
                "km_off": km_off,
                "load_missing": load_missing,
                "load_wrong": load_wrong,
                "status_wrong": status_wrong,
                "back_to_live_s": [round(ms / 1000, 1) for ms in live_ms],
            },
        )
        result.passed = (
            lost == double == extra_runs == km_off == load_missing == load_wrong == status_wrong == 0
            and len(live_ms) == len(KILL_AT_S)
            and max(live_ms) <= BACK_TO_LIVE_S * 1000
        )
        (tmp_path / "ledger.json").write_text(
            json.dumps(
                {
                    "sent": {f"{r}|{s[0]['ts']}": len(s) for r, rs in runs.items() for s in rs},
                    "stored": {f"{r['runner']}|{r['time']}": r["samples"] for r in stored},
                }
            )
        )
        Ledger(result.row, tmp_path).publish_result(result)
        assert (lost, double, extra_runs, km_off) == (0, 0, 0, 0), result
        assert (load_missing, load_wrong, status_wrong) == (0, 0, 0), result
        assert len(live_ms) == len(KILL_AT_S) and max(live_ms) <= BACK_TO_LIVE_S * 1000, result
    finally:
        phone.close()
        client.loop_stop()
        client.disconnect()
        stack.stop_all()
