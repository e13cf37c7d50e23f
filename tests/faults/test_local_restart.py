"""The local stack (`footpod-monitor up`) stopped and started between two weeks of runs (FAULTS.md
row 11). Its Kafka (Tansu) keeps topics in memory only, so the restart starts from empty topics and
no committed offsets: what the runners' history is must come from the store. Every runner's status,
load and alert history is unchanged by the restart, nothing re-alerts (not even when a phone syncs
the first week again), and the second week is counted on top of the first."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

from monitor import servers
from tests.faults.fault_ledger import Ledger, Result
from tests.faults.pipeline import FAST, FaultStack, Phone, wait_until, watch
from tests.integration.stack import ROSTER
from tests.integration.training import daily_runs, monday_weeks_ago, trailing_km

RUNNERS = ("alice", "bob", "frank", "hank")
WEEKS_KM = {"alice": [21.0, 28.0], "bob": [14.0, 28.0], "frank": [21.0, 21.0], "hank": [28.0, 42.0]}


class LocalStack:
    """`footpod-monitor up --no-view` as an operator runs it, on ports of its own."""

    def __init__(self, data_dir):
        self.data_dir = data_dir
        self.ports = {name: servers.free_port() for name in ("mqtt", "kafka", "influx")}
        self.env = {
            **os.environ,
            **FAST,
            "FOOTPOD_DATA_DIR": str(data_dir),
            "FOOTPOD_ROSTER": str(data_dir / "roster.yaml"),
            "FOOTPOD_MQTT_URL": f"mqtt://127.0.0.1:{self.ports['mqtt']}",
            "FOOTPOD_KAFKA_URL": f"kafka://127.0.0.1:{self.ports['kafka']}",
            "FOOTPOD_INFLUX_URL": f"http://127.0.0.1:{self.ports['influx']}",
            "FOOTPOD_NOTIFY_DAILY_HOUR_UTC": "0",
            # statuses as of now (and today's midnight load point) every 5 s, not every hour,
            # so the snapshot before the restart says what the one after it must say
            "FOOTPOD_STATUS_EVERY_S": "5",
            # the first week is more than 7 days old: its alerts are pushed here all the same, so a
            # re-alert after the restart would show on MQTT (RULES.md §7 stores older ones only)
            "FOOTPOD_PUSH_WITHIN_DAYS": "30",
        }
        self.process: subprocess.Popen | None = None
        # read-backs through the helpers of the fault stack (no stage of its own is started)
        self.view = FaultStack(data_dir, self.ports["mqtt"], self.ports["kafka"], self.ports["influx"])

    def up(self) -> None:
        run_dir = self.data_dir / "run"
        for stale in run_dir.glob("*.ready") if run_dir.exists() else ():
            stale.unlink()
        log = (self.data_dir / "up.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "up", "--no-view"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        ready = wait_until(
            lambda: (
                all((run_dir / f"{s}.ready").exists() for s in ("bridge", "stream", "alerts"))
                or self.process.poll() is not None
            ),
            120,
            0.3,
        )
        assert ready and self.process.poll() is None, (self.data_dir / "up.log").read_text()[-3000:]

    def down(self) -> None:
        """Ctrl-C: the stages and the servers stop, in reverse."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(90)


def snapshot(local: LocalStack) -> dict:
    """Every runner's retained status (less `as_of`), load points and alert points, from the servers."""
    watcher, client = watch(local.ports["mqtt"], "status/+")
    wait_until(lambda: {s["runner"] for s in watcher.on("status/")} >= set(RUNNERS), 10, 0.2)
    client.loop_stop()
    client.disconnect()
    statuses = {s["runner"]: {k: v for k, v in s.items() if k != "as_of"} for s in watcher.on("status/")}
    loads = sorted(
        (p["runner"], p["time"], p["week_km"], p["gate"])
        for p in local.view.points("load", '"week_km", "gate", "runner"')
    )
    alerts = sorted((p["runner"], p["time"], p["id"]) for p in local.view.points("alert", '"id", "runner"'))
    return {"status": statuses, "load": loads, "alert": alerts}


def test_row11_the_local_stack_restarted_between_two_weeks_keeps_history_and_does_not_realert(tmp_path):
    (tmp_path / "roster.yaml").write_text(ROSTER)
    local = LocalStack(tmp_path)
    runs = {r: daily_runs(f"{r}-pod", monday_weeks_ago(2), WEEKS_KM[r]) for r in RUNNERS}
    week1 = {r: rs[:7] for r, rs in runs.items()}
    week2 = {r: rs[7:] for r, rs in runs.items()}
    local.up()
    watcher, client = watch(local.ports["mqtt"], "alerts/#")
    phone = Phone(local.ports["mqtt"])
    try:
        for runner, rs in week1.items():
            for samples in rs:
                phone.sync(runner, samples)
        # a pain report in the first week: a pain-gate alert in the history
        phone.pain("bob", {"ts": week1["bob"][3][-1]["ts"] + 60_000, "score": 6, "timing": "after"})
        ends = {(r, rs[-1][-1]["ts"]) for r, rs in week1.items()}
        wait_until(
            lambda: (
                ends <= {(p["runner"], p["time"]) for p in local.view.points("load", '"week_km", "runner"')}
                and any(a["rule"] == "pain_gate" for a in watcher.on("alerts/"))
            ),
            90,
        )
        time.sleep(float(FAST["FOOTPOD_PAIN_SETTLE_MAX_S"]) + 5)  # a round of statuses as of now
        before = snapshot(local)
        alerts_before = [a["id"] for a in watcher.on("alerts/")]
        phone.close()
        client.loop_stop()
        client.disconnect()

        local.down()
        local.up()
        watcher, client = watch(local.ports["mqtt"], "alerts/#")
        phone = Phone(local.ports["mqtt"])
        time.sleep(6)  # the restarted alert worker's first round of statuses as of now
        after = snapshot(local)
        for runner, rs in week1.items():  # a phone syncs the first week again
            for samples in rs[-2:]:
                phone.sync(runner, samples)
        time.sleep(float(FAST["FOOTPOD_RUN_SETTLE_S"]) + 4)
        realerted = [a["id"] for a in watcher.on("alerts/")]
        for runner, rs in week2.items():
            for samples in rs:
                phone.sync(runner, samples)
        ends2 = {(r, rs[-1][-1]["ts"]) for r, rs in week2.items()}
        wait_until(
            lambda: ends2 <= {(p["runner"], p["time"]) for p in local.view.points("load", '"week_km", "runner"')}, 90
        )
        time.sleep(3)
        loads = {(p["runner"], p["time"]): p["week_km"] for p in local.view.points("load", '"week_km", "runner"')}
        load_wrong = sum(
            1
            for r, rs in runs.items()
            for s in rs
            if abs(loads.get((r, s[-1]["ts"]), -1) - trailing_km(rs, s[-1]["ts"], 7, 0)) > 0.01
        )
        all_ids = Counter([*alerts_before, *(a["id"] for a in watcher.on("alerts/"))])
        repeated = sum(1 for n in all_ids.values() if n > 1)
        changed = {part: before[part] != after[part] for part in ("status", "load", "alert")}
        result = Result(
            "11 local stack restarted",
            sum(len(s) for rs in runs.values() for s in rs),
            0,
            repeated,
            notes={
                "status_changed": changed["status"],
                "load_changed": changed["load"],
                "alerts_changed": changed["alert"],
                "alerts_before": len(alerts_before),
                "realerted": len(realerted),
                "load_wrong": load_wrong,
                "alerts_total": len(all_ids),
            },
        )
        result.passed = not any(changed.values()) and not realerted and repeated == 0 and load_wrong == 0
        (tmp_path / "ledger.json").write_text(json.dumps({"before": before, "after": after}, default=str))
        Ledger(result.row, tmp_path).publish_result(result)
        assert alerts_before, "the first week raised no alert: nothing to re-alert"
        assert before["status"] == after["status"], (before["status"], after["status"])
        assert before["load"] == after["load"] and before["alert"] == after["alert"]
        assert realerted == [] and repeated == 0, result
        assert load_wrong == 0, result
    finally:
        phone.close()
        client.loop_stop()
        client.disconnect()
        if local.process and local.process.poll() is None:
            local.down()
