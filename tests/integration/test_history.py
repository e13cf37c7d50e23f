"""History of any age and the same run from two sources, through the whole pipeline (RULES.md §7)."""

from __future__ import annotations

import time

import httpx

from tests.integration.training import DAY_MS, daily_runs, monday_weeks_ago, run, run_km, trailing_km


def influxql(stack, query: str) -> list[list]:
    response = httpx.get(f"{stack.influx_url}/query", params={"db": "footpod", "q": query, "epoch": "ms"})
    response.raise_for_status()
    series = response.json()["results"][0].get("series", [])
    return [values for s in series for values in s["values"]]


def test_three_weeks_synced_85_days_late_count_as_if_lived(pipeline, watch, phone):
    runs = daily_runs("hugh-pod", monday_weeks_ago(14), [10.5, 10.5, 14.0])
    watcher = watch("status/hugh")
    for samples in runs:
        phone("footpod/hugh/samples", samples)
    end = runs[-1][-1]["ts"]
    status = watcher.wait_for(
        lambda: [s for s in watcher.on("status/hugh") if s["last_run"]["end"][:19] == _iso(end)[:19]],
        what="hugh's status after the last run",
    )[-1]
    assert abs(status["week_km"] - trailing_km(runs, end, 7, 0)) <= 0.01 * 14.0, status
    assert abs(status["prev_week_km"] - trailing_km(runs, end, 14, 7)) <= 0.01 * 10.5, status
    stored = lambda: influxql(pipeline, "SELECT sum(km), count(km) FROM run WHERE runner = 'hugh'")  # noqa: E731
    watcher.wait_for(lambda: stored() and stored()[0][2] == len(runs), what="hugh's runs stored")
    assert abs(stored()[0][1] - 35.0) < 0.01 * 35.0

    phone("footpod/hugh/samples", runs[3])  # an old run synced again, then a new run after it
    marker = run("hugh-pod", end + DAY_MS, 2.0)
    phone("footpod/hugh/samples", marker)
    watcher.wait_for(lambda: stored()[0][2] == len(runs) + 1, what="the new run stored")
    assert abs(stored()[0][1] - (35.0 + run_km(marker))) < 0.01 * 35.0


def test_the_live_stream_and_the_watch_file_of_one_run_count_once(pipeline, watch, phone):
    start = int(time.time() * 1000) - 2 * DAY_MS
    live = run("iris-pod", start + 60_000, 5.0)  # the gateway missed the first minute
    watch_file = [
        {**s, "device_id": "iris-watch", "run_id": "fit:1:1", "distance_m": s["distance_m"] * 1.02}
        for s in run("iris-watch", start, 5.2)[::5]
    ]  # every 5 s, the whole run
    watcher = watch("status/iris")
    phone("footpod/iris/samples", live)
    phone("footpod/iris/samples", watch_file)
    expected = run_km(watch_file)
    status = watcher.wait_for(
        lambda: [s for s in watcher.on("status/iris") if abs(s["week_km"] - expected) < 0.01 and not s["live"]],
        timeout_s=90,
        what="iris's week with her run once",
    )[-1]
    assert status["last_run"]["run_id"] == "fit:1:1"
    per_day = influxql(pipeline, "SELECT sum(km) FROM run WHERE runner = 'iris'")
    assert abs(per_day[0][1] - expected) < 0.01


def _iso(ms: int) -> str:
    from footpod.contract import iso

    return iso(ms)
