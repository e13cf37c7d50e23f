"""A runner's data rights on real servers: `export` hands over everything stored, `forget` deletes
it everywhere (store, retained status, outbox) and leaves every other runner as it was."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
import time

import httpx
import pytest

from alerts.notify import Outbox
from footpod import schema
from tests.integration.stack import mqtt_connect, own_pipeline
from tests.integration.training import daily_runs, monday_weeks_ago


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    with own_pipeline(tmp_path_factory.mktemp("rights-stack")) as stack:
        yield stack


def points(stack, runner: str) -> dict[str, int]:
    out = {}
    for measurement in schema.MEASUREMENTS:
        response = httpx.post(
            f"{stack.influx_url}/query",
            params={"db": "footpod"},
            data={"q": schema.runner_count_query(measurement, runner)},
        )
        series = response.json()["results"][0].get("series", [])
        out[measurement.name] = max((v for s in series for v in s["values"][0][1:] if v is not None), default=0)
    return out


def retained(stack, topic: str, wait_s: float = 3.0) -> list[bytes]:
    """The retained message(s) a new subscriber gets on `topic`."""
    got, client = [], mqtt_connect(stack.mqtt_port)
    client.on_message = lambda c, u, message: got.append(message.payload)
    subscribed = threading.Event()
    client.on_subscribe = lambda *args: subscribed.set()
    client.subscribe(topic, qos=1)
    subscribed.wait(5)
    time.sleep(wait_s)
    client.loop_stop()
    client.disconnect()
    return got


def cli(stack, *args):
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args], env=stack.env, capture_output=True, text=True, timeout=120
    )


def test_export_then_forget_a_runner(pipeline, phone, tmp_path):
    first_monday = monday_weeks_ago(2)
    for name, weeks in (("paula", [20.0, 24.0]), ("quinn", [15.0, 15.0])):
        for run in daily_runs(f"{name}-pod", first_monday, weeks):
            phone(f"footpod/{name}/samples", run)
    phone("footpod/paula/pain", {"ts": int(time.time() * 1000), "score": 3, "flags": [], "worsening": False})
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        paula, quinn = points(pipeline, "paula"), points(pipeline, "quinn")
        if paula["run"] == 14 and paula["pain"] == 1 and paula["alert"] >= 1 and quinn["run"] == 14:
            break
        time.sleep(0.5)
    assert (paula["run"], paula["pain"], quinn["run"]) == (14, 1, 14) and paula["alert"] >= 1, (paula, quinn)
    assert retained(pipeline, "status/paula", 1.0)

    outbox = Outbox(pipeline.data_dir / "notify.sqlite")
    alert_id = httpx.post(
        f"{pipeline.influx_url}/query",
        params={"db": "footpod"},
        data={"q": "SELECT id FROM alert WHERE runner = 'paula'"},
    ).json()["results"][0]["series"][0]
    outbox.add(alert_id["values"][0][1], ["json://coach.example/hook", "json://paula.example"], "t", "b", "info", 0)
    outbox.add("daily:paula:2026-01-02", ["json://paula.example"], "t", "b", "info", 0)
    outbox.add("daily:quinn:2026-01-02", ["json://quinn.example"], "t", "b", "info", 0)
    outbox.add("daily:Paula:2026-01-02", ["json://other.example"], "t", "b", "info", 0)  # another runner

    result = cli(pipeline, "export", "paula", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    for name in ("run", "load", "pain", "alert"):
        with (tmp_path / "out" / f"paula-{name}.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == paula[name], name
        assert all(row["runner"] == "paula" for row in rows)
    document = json.loads((tmp_path / "out" / "paula.json").read_text())
    assert len(document["run"]) == 14 and document["pain"][0]["score"] == 3
    assert abs(sum(row["km"] for row in document["run"]) - 44.0) < 0.5

    refused = cli(pipeline, "forget", "paula")
    assert refused.returncode == 2 and "add --yes" in refused.stderr
    assert points(pipeline, "paula") == paula

    result = cli(pipeline, "forget", "paula", "--yes")
    assert result.returncode == 0, result.stderr
    print(result.stdout)
    assert f"deleted {sum(paula.values())} points" in result.stdout
    assert "deleted 3 messages" in result.stdout
    assert set(points(pipeline, "paula").values()) == {0}
    assert points(pipeline, "quinn") == quinn
    assert retained(pipeline, "status/paula") == []
    assert retained(pipeline, "status/quinn", 1.0)
    left = {row[0] for row in outbox.db.execute("SELECT key FROM outbox")}
    assert left == {"daily:quinn:2026-01-02", "daily:Paula:2026-01-02"}
    outbox.close()
