"""A season imported at once (RULES.md §7, issue 8): a year of one runner's runs as FIT files, one
`footpod-monitor import`, on the real stack. The daily `load` series is filled as if the year had
been lived live, the status counts the runs once, alerts caused by last spring are stored and not
published, and importing the folder again changes nothing.

`pytest tests/integration/test_import_year.py -s` prints the import speed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import garmin_fit_sdk  # the `test` extra
import httpx

from footpod.contract import epoch_ms
from footpod.load import DAY_MS, load_at
from footpod.records import RunSummary

RUNNER = "yara"  # not in the roster: team `unassigned`
SERIAL = 90210
RECORD_S = 5  # sparse recording, as watches do in their "smart" mode
SPEED_MPS = 3.0
WEEKS = 50  # three runs a week: 150 runs
NORMAL = (6.0, 7.0, 7.0)  # km of the week's three runs, oldest first: 20 km a week
SPIKE_WEEK, SPIKE = 30, (10.0, 10.0, 12.0)  # 30 weeks ago (last spring): +60 %, stored only
LAST_WEEK = (8.0, 8.0, 9.0)  # the last 7 days: +15 % by the second run, published
MESG = garmin_fit_sdk.Profile["mesg_num"]


def season(now: datetime) -> list[tuple[datetime, float]]:
    """(start, km) of each run, oldest first: 07:00 UTC 5, 3 and 1 days before each week's end."""
    today = now.replace(hour=7, minute=0, second=0, microsecond=0)
    runs = []
    for week in range(WEEKS - 1, -1, -1):
        kms = LAST_WEEK if week == 0 else SPIKE if week == SPIKE_WEEK else NORMAL
        for days_ago, km in zip((5, 3, 1), kms, strict=True):
            runs.append((today - timedelta(days=7 * week + days_ago), km))
    return runs


def marker_time(at: datetime, margin: timedelta = timedelta(minutes=5)) -> datetime:
    """A start for the short marker run that ends before `at` and after `at`'s UTC midnight, so no
    midnight's load holds it: an hour before, or just after midnight when that is nearer (waiting
    out the first minutes of a day)."""
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if at - midnight < margin:
        time.sleep((midnight + margin - at).total_seconds())
        at = midnight + margin
    return max(at.replace(microsecond=0) - timedelta(hours=1), midnight + timedelta(seconds=1))


def fit_run(start: datetime, km: float) -> tuple[bytes, RunSummary]:
    """One run as a FIT activity file, and the run as the ledger knows it."""
    count = int(km * 1000 / (SPEED_MPS * RECORD_S)) + 1
    step_m = SPEED_MPS * RECORD_S
    end = start + timedelta(seconds=RECORD_S * (count - 1))
    encoder = garmin_fit_sdk.Encoder()
    encoder.write_mesg(
        {
            "mesg_num": MESG["FILE_ID"],
            "type": "activity",
            "manufacturer": "garmin",
            "product": 1,
            "serial_number": SERIAL,
            "time_created": start,
        }
    )
    for i in range(count):
        encoder.write_mesg(
            {
                "mesg_num": MESG["RECORD"],
                "timestamp": start + timedelta(seconds=RECORD_S * i),
                "distance": step_m * i,
                "cadence": 86,
                "fractional_cadence": 0.0,
                "speed": SPEED_MPS,
            }
        )
    encoder.write_mesg(
        {
            "mesg_num": MESG["SESSION"],
            "sport": "running",
            "start_time": start,
            "timestamp": end,
            "total_distance": step_m * (count - 1),
        }
    )
    start_ms = int(start.timestamp() * 1000)
    summary = RunSummary(
        run_id=f"fit:{SERIAL}:{start_ms // 1000}",
        device_id=str(SERIAL),
        start_ms=start_ms,
        end_ms=int(end.timestamp() * 1000),
        km=step_m * (count - 1) / 1000,
        samples=count,
        cadence_spm=172.0,
    )
    return encoder.close(), summary


def influxql(stack, query: str) -> list[list]:
    response = httpx.get(f"{stack.influx_url}/query", params={"db": "footpod", "q": query, "epoch": "ms"})
    response.raise_for_status()
    series = response.json()["results"][0].get("series", [])
    return [values for s in series for values in s["values"]]


def import_cli(stack, *paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "import", "--runner", RUNNER, "--no-progress", *map(str, paths)],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def wait_for(condition, what: str, timeout_s: float = 180.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(1.0)
    raise AssertionError(f"timed out waiting for {what}")


def final_runs(stack) -> dict[str, float]:
    rows = influxql(stack, f"SELECT run_id, km, final FROM run WHERE runner = '{RUNNER}'")
    return {run_id: km for _time, run_id, km, final in rows if final}


def daily_loads(stack) -> dict[int, tuple]:
    """The `load` points at midnight (the others are at runs' ends)."""
    rows = influxql(
        stack, f"SELECT week_km, prev_week_km, chronic_week_km, acwr, acwr_ewma FROM load WHERE runner = '{RUNNER}'"
    )
    return {int(row[0]): tuple(row[1:]) for row in rows if int(row[0]) % DAY_MS == 0}


def stored_alerts(stack) -> dict[str, tuple[int, str]]:
    rows = influxql(stack, f"SELECT id, rule FROM alert WHERE runner = '{RUNNER}'")
    return {alert_id: (int(ts), rule) for ts, alert_id, rule in rows}


def close(value, expected) -> bool:
    if value is None or expected is None:
        return value is None and expected is None
    return abs(value - expected) <= max(0.01 * abs(expected), 0.011)  # 1 %, and the status's 2 decimals


def reference(runs: list[RunSummary], midnights: list[int]) -> dict[int, tuple]:
    first_seen = runs[0].start_ms
    return {
        day: (lambda load: (load.week_km, load.prev_week_km, load.chronic_week_km, load.acwr, load.acwr_ewma))(
            load_at(runs, day, first_seen)
        )
        for day in midnights
    }


def matches(stored: dict[int, tuple], expected: dict[int, tuple]) -> list[int]:
    """The midnights where the stored load differs from the reference (or is missing)."""
    return [
        day
        for day, values in expected.items()
        if day not in stored or not all(close(a, b) for a, b in zip(stored[day], values, strict=True))
    ]


def test_a_year_imported_at_once_fills_the_daily_load_and_pushes_only_this_weeks_alerts(pipeline, watch, tmp_path):
    now = datetime.now(UTC)
    folder = tmp_path / "year"
    folder.mkdir()
    ledger: list[RunSummary] = []
    for start, km in season(now):
        data, summary = fit_run(start, km)
        (folder / f"{start:%Y-%m-%d}.fit").write_bytes(data)
        ledger.append(summary)
    samples = sum(run.samples for run in ledger)
    watcher = watch("alerts/#", f"status/{RUNNER}")

    began = time.perf_counter()
    first = import_cli(pipeline, folder)
    imported_s = time.perf_counter() - began
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"{len(ledger)} runs" in first.stderr, first.stderr
    stored = wait_for(
        lambda: (lambda runs: runs if len(runs) == len(ledger) else None)(final_runs(pipeline)),
        "every run stored and judged whole",
    )
    counted_s = time.perf_counter() - began
    print(
        f"\nimport of a year: {len(ledger)} runs, {samples} samples ({RECORD_S} s recording): "
        f"`import` {imported_s:.1f} s = {len(ledger) / imported_s:.1f} runs/s, "
        f"{samples / imported_s:,.0f} samples/s; "
        f"every run stored and judged whole after {counted_s:.1f} s "
        f"= {len(ledger) / counted_s:.1f} runs/s, {samples / counted_s:,.0f} samples/s"
    )
    assert sorted(stored) == sorted(run.run_id for run in ledger)
    assert abs(sum(stored.values()) - sum(run.km for run in ledger)) <= 0.01 * sum(run.km for run in ledger)

    # (a) a load point at every midnight from the first run to today, as the ledger's runs give it
    today = int(now.timestamp() * 1000) // DAY_MS * DAY_MS
    midnights = list(range(ledger[0].end_ms // DAY_MS * DAY_MS + DAY_MS, today + 1, DAY_MS))
    expected = reference(ledger, midnights)
    wait_for(lambda: not matches(daily_loads(pipeline), expected), "the daily load series of the year", 90)
    loads = daily_loads(pipeline)
    assert set(loads) == set(midnights), "a midnight without a load point, or one before the first run"
    assert not matches(loads, expected)
    spike_km = sum(run.km for run in ledger[-3 * SPIKE_WEEK - 3 : -3 * SPIKE_WEEK])
    assert close(max(load[0] for load in loads.values()), spike_km)  # the spring spike is in the series

    # (b) the retained status counts the runs once, as the ledger gives them at its instant
    status = watcher.wait_for(
        lambda: [
            s
            for s in watcher.on(f"status/{RUNNER}")
            if s["last_run"] and s["last_run"]["run_id"] == ledger[-1].run_id and not s["live"]
        ],
        what="the status after the last run",
    )[-1]
    load = load_at(ledger, epoch_ms(status["as_of"]), ledger[0].start_ms)
    assert close(status["week_km"], load.week_km) and close(status["prev_week_km"], load.prev_week_km), status
    assert close(status["acwr"], load.acwr), status
    assert close(status["week_km"], sum(run.km for run in ledger[-3:]))  # the last week's three runs

    # (c) alerts of last spring are stored, not published; this week's are published
    week_ago = int(now.timestamp() * 1000) - 7 * DAY_MS
    alerts = wait_for(
        lambda: (lambda got: got if any(ts >= week_ago for ts, _ in got.values()) else None)(stored_alerts(pipeline)),
        "this week's alert stored",
    )
    spring = {alert_id for alert_id, (ts, _) in alerts.items() if ts < week_ago}
    spike_end = ledger[-3 * SPIKE_WEEK - 1].end_ms  # the spike week's last run
    assert any(rule == "progression" and spike_end - 7 * DAY_MS < ts <= spike_end for ts, rule in alerts.values())
    published = watcher.wait_for(lambda: watcher.on(f"alerts/unassigned/{RUNNER}"), what="this week's alert")
    assert {alert["id"] for alert in published} == set(alerts) - spring
    assert all(epoch_ms(alert["ts"]) >= week_ago for alert in published)
    assert any(alert["rule"] == "progression" for alert in published)

    # (d) the same folder again changes nothing: runs, km, the daily load, alerts
    settled = (final_runs(pipeline), daily_loads(pipeline), stored_alerts(pipeline))
    again = import_cli(pipeline, folder)
    assert again.returncode == 0, again.stdout + again.stderr
    # a later run, published after the second import, is stored once the stream has taken all before it
    marker_start = marker_time(datetime.now(UTC))
    marker_data, marker = fit_run(marker_start, 0.3)
    (tmp_path / "marker.fit").write_bytes(marker_data)
    assert import_cli(pipeline, tmp_path / "marker.fit").returncode == 0
    wait_for(lambda: marker.run_id in final_runs(pipeline), "the marker run stored")
    runs_after = {run_id: km for run_id, km in final_runs(pipeline).items() if run_id != marker.run_id}
    assert runs_after == settled[0]
    assert daily_loads(pipeline) == settled[1]  # the marker ends after today's midnight
    alerts_after = {
        alert_id: value for alert_id, value in stored_alerts(pipeline).items() if value[0] < marker.start_ms
    }
    assert alerts_after == settled[2]
    assert {a["id"] for a in watcher.on(f"alerts/unassigned/{RUNNER}")} <= set(stored_alerts(pipeline))
