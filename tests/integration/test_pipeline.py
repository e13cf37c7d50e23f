"""Three weeks of runs over MQTT through the whole pipeline, read back from MQTT and InfluxDB."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
from aiokafka import AIOKafkaConsumer

from tests.integration.training import DAY_MS, daily_runs, monday_weeks_ago, run, trailing_km

FLAT = [35.0, 35.0, 35.0]
PLUS_20_KM = 12.0  # the last day's run instead of 5 km: 42 km in the last 7 days, +20 % on 35


def three_weeks_to_yesterday() -> int:
    """Midnight UTC 21 days ago: the weeks end yesterday, so an alert of their last days is recent
    enough to be published (RULES.md §7: alerts of older history are stored, not pushed)."""
    return int(time.time() * 1000) // DAY_MS * DAY_MS - 21 * DAY_MS


def influxql(stack, query: str) -> list[list]:
    response = httpx.get(f"{stack.influx_url}/query", params={"db": "footpod", "q": query, "epoch": "ms"})
    response.raise_for_status()
    series = response.json()["results"][0].get("series", [])
    return [values for s in series for values in s["values"]]


def read_deadletters(stack) -> list[dict]:
    async def read():
        consumer = AIOKafkaConsumer(
            "footpod.deadletter", bootstrap_servers=stack.kafka_bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        try:
            batches = await consumer.getmany(timeout_ms=3000)
            return [json.loads(record.value) for records in batches.values() for record in records]
        finally:
            await consumer.stop()

    return asyncio.run(read())


def test_three_weeks_of_synced_runs_give_status_alerts_and_series(pipeline, watch, phone):
    watcher = watch("status/#", "alerts/#")
    first_day = three_weeks_to_yesterday()
    alice = daily_runs("alice-pod", first_day, FLAT)
    bob = daily_runs("bob-pod", first_day, FLAT)
    bob[-1] = run("bob-pod", bob[-1][0]["ts"], PLUS_20_KM)  # the week over 10 % on its last day only: one alert
    for index, (a, b) in enumerate(zip(alice, bob)):
        phone("footpod/alice/samples", a)
        phone("footpod/bob/samples", b)
        if index == 10:
            phone("footpod/bob/samples", b"{this is not json")

    last_end = {name: runs[-1][-1]["ts"] for name, runs in (("alice", alice), ("bob", bob))}
    for name, runs in (("alice", alice), ("bob", bob)):
        status = watcher.wait_for(
            lambda name=name: [
                s for s in watcher.on(f"status/{name}") if s["last_run"]["end"][:19] == _iso(last_end[name])[:19]
            ],
            what=f"{name}'s status after the last run",
        )[-1]
        week = trailing_km(runs, last_end[name], 7, 0)
        prev = trailing_km(runs, last_end[name], 14, 7)
        assert abs(status["week_km"] - week) <= 0.01 * week, (status, week)
        assert abs(status["prev_week_km"] - prev) <= 0.01 * prev, (status, prev)
        assert status["team"] == "harriers" and status["gate"] == "progress"

    # run rules judge whole runs: the verdicts come once nothing of the runs has arrived for 30 s
    watcher.wait_for(
        lambda: [a for a in watcher.on("alerts/") if a["rule"] == "progression"],
        timeout_s=90,
        what="bob's progression alert",
    )
    alerts = watcher.on("alerts/")
    progression = [a for a in alerts if a["rule"] == "progression"]
    assert [a["runner"] for a in progression] == ["bob"], alerts
    assert progression[0]["action"] == "hold" and progression[0]["severity"] == "warning"
    assert progression[0]["details"]["change_pct"] > 10

    runs_stored = influxql(pipeline, "SELECT km FROM run WHERE runner = 'alice'")
    assert len(runs_stored) == len(alice)
    assert abs(sum(row[1] for row in runs_stored) - sum(FLAT)) < 0.01 * sum(FLAT)
    loads = influxql(pipeline, "SELECT week_km, prev_week_km FROM load WHERE runner = 'bob' ORDER BY time DESC LIMIT 1")
    assert abs(loads[0][1] - status_week(watcher, "bob")) < 0.01
    alert_rows = influxql(pipeline, "SELECT action FROM alert WHERE rule = 'progression' AND runner = 'bob'")
    assert len(alert_rows) == 1

    letters = read_deadletters(pipeline)
    assert [(d["topic"], d["payload"]) for d in letters] == [("footpod/bob/samples", "{this is not json")]
    assert letters[0]["reason"].startswith("not JSON")


def test_syncing_the_same_runs_again_changes_nothing(pipeline, watch, phone):
    first_monday = monday_weeks_ago(2)
    runs = daily_runs("carol-pod", first_monday, [21.0])
    for samples in runs:
        phone("footpod/carol/samples", samples)
    watcher = watch("status/carol")
    end = runs[-1][-1]["ts"]
    watcher.wait_for(
        lambda: [s for s in watcher.on("status/carol") if s["last_run"]["end"][:19] == _iso(end)[:19]],
        what="carol's status",
    )
    for samples in runs[-3:]:
        phone("footpod/carol/samples", samples)
    phone("footpod/carol/samples", runs[0][:100])
    stored = lambda: influxql(pipeline, "SELECT count(km) FROM run WHERE runner = 'carol'")  # noqa: E731
    assert watcher.wait_for(lambda: stored() and stored()[0][1] == 7, what="7 runs stored")
    expected = trailing_km(runs, end, 7, 0)
    latest = watcher.on("status/carol")[-1]
    assert abs(latest["week_km"] - expected) <= 0.01 * expected


def status_week(watcher, runner: str) -> float:
    return watcher.on(f"status/{runner}")[-1]["week_km"]


def _iso(ms: int) -> str:
    from footpod.contract import iso

    return iso(ms)
