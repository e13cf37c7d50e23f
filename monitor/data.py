"""A runner's data rights: `export` (everything stored about them, as CSV and JSON) and `forget`
(delete it everywhere: the store, the retained status, the notification outbox). Knee pain is
health data; what `forget` cannot reach (Kafka's retention, the roster) it names."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

from footpod import schema
from footpod.contract import is_runner_name, iso
from footpod.errors import FootpodError, UsageError
from footpod.settings import Settings
from footpod.timeseries import delete_runner_now, query_now


def check_runner(runner: str) -> None:
    if not is_runner_name(runner):
        raise UsageError(f"'{runner}' is not a runner name: 1-64 of A-Z a-z 0-9 _ . -")


def runner_rows(settings: Settings, runner: str) -> dict[str, list[dict[str, Any]]]:
    """{measurement: rows} of what `export` hands over, oldest first, each row with its ISO time."""
    out = {}
    for measurement in schema.EXPORTED:
        rows = query_now(settings, schema.runner_all_query(measurement, runner), timeout_s=60)
        out[measurement.name] = [
            {"time": iso(int(row["time"])), **{k: v for k, v in row.items() if k != "time"}} for row in rows
        ]
    return out


def export(settings: Settings, runner: str, out_dir: Path) -> list[tuple[str, int, Path]]:
    """Write `<runner>-<measurement>.csv` for each measurement and `<runner>.json` with all of them;
    return (measurement, rows, CSV path) for each."""
    check_runner(runner)
    data = runner_rows(settings, runner)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in data.items():
        path = out_dir / f"{runner}-{name}.csv"
        columns = ["time", *sorted({key for row in rows for key in row} - {"time"})]
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        written.append((name, len(rows), path))
    document = {"runner": runner, "exported": iso(int(time.time() * 1000)), **data}
    (out_dir / f"{runner}.json").write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    return written


def stored_counts(settings: Settings, runner: str) -> dict[str, int]:
    """{measurement: points of the runner} in every measurement the store holds."""
    counts = {}
    for measurement in schema.MEASUREMENTS:
        rows = query_now(settings, schema.runner_count_query(measurement, runner), timeout_s=60)
        counts[measurement.name] = max(
            (int(v) for row in rows for k, v in row.items() if k.startswith("count_") and v is not None), default=0
        )
    return counts


def forget(settings: Settings, runner: str) -> list[str]:
    """Delete the runner's data everywhere; return one line per place saying what went."""
    check_runner(runner)
    counts = stored_counts(settings, runner)
    alert_ids = [
        row["id"]
        for row in query_now(settings, schema.runner_all_query(schema.ALERT, runner), timeout_s=60)
        if row.get("id")
    ]
    how = delete_runner_now(settings, runner)
    left = sum(stored_counts(settings, runner).values())
    if left:
        raise FootpodError(f"the store still holds {left} points of {runner} after the delete; try again")
    lines = [
        f"time-series store: deleted {sum(counts.values())} points ("
        + ", ".join(f"{name} {n}" for name, n in counts.items())
        + f") with {how}"
    ]
    clear_retained_status(settings, runner)
    lines.append(f"MQTT: cleared the retained status/{runner}")
    lines.append(f"notification outbox: {forget_outbox(settings, runner, alert_ids)}")
    lines.append(
        f"not reached: Kafka keeps {runner}'s raw samples until the topics' retention removes them; "
        f"remove {runner} from the roster; restart the stream and alerts workers to drop what they hold "
        "in memory"
    )
    return lines


def clear_retained_status(settings: Settings, runner: str) -> None:
    """An empty retained message deletes the broker's retained one (MQTT 3.1.1, 3.3.1.3)."""
    from footpod.mqtt import mqtt_client
    from monitor.ask import _start

    client = mqtt_client(settings, f"footpod-forget-{time.time_ns()}")
    _start(client, settings)
    try:
        client.publish(f"status/{runner}", b"", qos=1, retain=True).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def forget_outbox(settings: Settings, runner: str, alert_ids: list[str]) -> str:
    from alerts.notify import Outbox

    path = settings.notify_outbox_path
    if not path.exists():
        return f"none at {path}"
    outbox = Outbox(path)
    try:
        return f"deleted {outbox.forget(runner, alert_ids)} messages from {path}"
    finally:
        outbox.close()
