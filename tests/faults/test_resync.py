"""Phones resend (FAULTS.md row 12): the same week synced twice, in other pieces the second time,
each MQTT message delivered twice, runs up to 7 days late and out of order. Every sample is counted
once, at its event time: each run's samples, distance and load point as the ledger of runs sent
gives them, and no alert published twice."""

from __future__ import annotations

import json
import random
from collections import Counter

from footpod.contract import iso
from tests.faults.fault_ledger import Ledger, Result, now_ms
from tests.faults.pipeline import Phone, start_pipeline, wait_until, watch
from tests.integration.stack import ROSTER
from tests.integration.training import DAY_MS, run, run_km, trailing_km

RUNNERS = 6
DAYS = 7  # a run a day, the oldest 7 days late


def test_row12_a_week_synced_twice_redelivered_late_and_out_of_order_is_counted_once(tmp_path):
    stack = start_pipeline(tmp_path, ROSTER)
    watcher, client = watch(stack.mqtt_port, "alerts/#", "status/#")
    phone = Phone(stack.mqtt_port)
    rng = random.Random(12)
    today = now_ms() // DAY_MS * DAY_MS
    runs = {
        f"w{i}": [
            run(f"pod-w{i}", today - day * DAY_MS + (6 + i) * 3_600_000, rng.choice([3.0, 5.0, 8.0]))
            for day in range(DAYS, 0, -1)
        ]
        for i in range(RUNNERS)
    }
    try:
        first = [(runner, samples) for runner, rs in runs.items() for samples in rs]
        rng.shuffle(first)  # out of order: a runner's days, and the runners, mixed
        for runner, samples in first:
            phone.sync(runner, samples)
            phone.sync(runner, samples)  # an MQTT redelivery: the same message again
        second = [
            (runner, piece)
            for runner, rs in runs.items()
            for samples in rs
            for piece in (samples[: len(samples) // 3], samples[len(samples) // 3 :])
        ]
        rng.shuffle(second)  # the same week again, cut in other pieces
        for runner, piece in second:
            phone.sync(runner, piece)
        sent_samples = sum(len(s) for rs in runs.values() for s in rs)
        wait_until(lambda: sum(r["samples"] for r in stack.final_runs()) >= sent_samples, 120)
        ends = {(runner, s[-1]["ts"]) for runner, rs in runs.items() for s in rs}

        def loads_wrong() -> int:
            """Load points at run ends that are missing or not the ledger's trailing 7 days (yet)."""
            loads = {(p["runner"], p["time"]): p["week_km"] for p in stack.points("load", '"week_km", "runner"')}
            return sum(
                1
                for runner, rs in runs.items()
                for s in rs
                if abs(loads.get((runner, s[-1]["ts"]), -1) - trailing_km(rs, s[-1]["ts"], 7, 0)) > 0.01
            )

        wait_until(lambda: loads_wrong() == 0, 60)  # late runs re-touch the later runs' loads
        stored = stack.final_runs()
        by_start = {(r["runner"], r["time"]): r for r in stored}
        lost = double = km_off = 0
        for runner, rs in runs.items():
            for samples in rs:
                got = by_start.get((runner, samples[0]["ts"]))  # a run at its event time
                have = got["samples"] if got else 0
                lost += max(0, len(samples) - have)
                double += max(0, have - len(samples))
                km_off += got is None or abs(got["km"] - run_km(samples)) > 1e-3
        extra_runs = len(stored) - len(ends)
        load_wrong = loads_wrong()
        cadence_times = [p["time"] for p in stack.points("cadence", '"spm"')]
        spans = [(s[0]["ts"], s[-1]["ts"]) for rs in runs.values() for s in rs]
        misplaced = sum(1 for t in cadence_times if not any(a <= t <= b for a, b in spans))
        alert_ids = Counter(a["id"] for a in watcher.on("alerts/"))
        alerts_twice = sum(1 for n in alert_ids.values() if n > 1)
        finals = {r: [s for s in watcher.on(f"status/{r}") if not s["live"]] for r in runs}
        status_wrong = sum(
            1 for r, rs in runs.items() if not finals[r] or finals[r][-1]["last_run"]["end"] != iso(rs[-1][-1]["ts"])
        )
        result = Result(
            "12 synced twice, redelivered, late",
            sent_samples,
            lost,
            double + max(0, extra_runs),
            redelivered=2 * len(first) + len(second) - len(first),
            notes={
                "runs": len(stored),
                "km_off": km_off,
                "load_wrong": load_wrong,
                "cadence_outside_runs": misplaced,
                "alerts": len(alert_ids),
                "alerts_twice": alerts_twice,
                "status_wrong": status_wrong,
            },
        )
        result.passed = (
            lost == double == extra_runs == km_off == load_wrong == misplaced == alerts_twice == status_wrong == 0
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
        assert (load_wrong, misplaced, alerts_twice, status_wrong) == (0, 0, 0, 0), result
    finally:
        phone.close()
        client.loop_stop()
        client.disconnect()
        stack.stop_all()
