"""Weeks of runs for the live bench's runners, written to the store as the stream would have left them.

Real runners come to a live run with weeks of history, and each live update carries the last 60 days
of runs (`streams.step.RECENT_DAYS`), so a runner without history makes the live path look cheaper
than it is. Publishing weeks of 1 Hz samples for thousands of runners would take hours; instead the
`run` points the stream writes for a run judged whole are written straight to InfluxDB, which is all a
worker reads back when it first sees a runner: the stream seeds its state from their segments
(`streams.seed`), the alert worker reads their runs (`alerts.worker`, 80 days).

The points are the stream's own: one 45-minute run at 1 Hz is counted and judged whole once by
`streams.step` (a template), and each history run is that run's sealed segment moved to its start,
summarised by `streams.runs.summarise` and written by `streams.points.run_point` (`footpod.schema`'s
`run` measurement), four runs a week as `bench/memory_per_runner.py` assumes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import httpx

from alerts.worker import LOOK_BACK_DAYS
from footpod import schema
from footpod.contract import CountedSample
from footpod.roster import UNASSIGNED
from footpod.settings import Settings
from footpod.timeseries import V1Api
from streams.points import run_point
from streams.runs import summarise
from streams.seed import seed_state
from streams.segments import Segment, load_params
from streams.state import RunnerState
from streams.step import Context, conclude, step

DAY_MS = 86_400_000
RUNS_PER_WEEK = 4
RUN_S = 2700  # 45 minutes at 1 Hz
PARAMS = load_params(Settings())


def template(cadence_spm: float, speed_mps: float) -> tuple[Segment, object]:
    """One run counted and judged whole by the stream's own step: its sealed segment and verdict."""
    device, start = "pod-template", 1_700_000_000_000
    samples = [
        CountedSample(
            ts=start + i * 1000,
            device_id=device,
            cadence_spm=cadence_spm,
            distance_m=speed_mps * i,
            speed_mps=speed_mps,
        )
        for i in range(RUN_S)
    ]
    arrival = start + RUN_S * 1000
    state = step(RunnerState(runner="template"), samples, Context(now_ms=arrival, params=PARAMS, team=UNASSIGNED)).state
    done = conclude(
        state, Context(now_ms=arrival + PARAMS.run_gap_ms + PARAMS.settle_ms, params=PARAMS, team=UNASSIGNED)
    )
    (segment,) = done.state.devices[device]
    (evaluation,) = done.update.touched
    return segment.model_copy({"start_ms": 0, "end_ms": segment.end_ms - segment.start_ms, "run_id": None}), evaluation


def run_starts(weeks: int, before_ms: int) -> list[int]:
    """`weeks` × 4 run starts, the newest starting a day before `before_ms`, 42 h apart (oldest first)."""
    count = weeks * RUNS_PER_WEEK
    spacing = 7 * DAY_MS // RUNS_PER_WEEK
    newest = before_ms - DAY_MS - RUN_S * 1000
    return [newest - k * spacing for k in reversed(range(count))]


def history_lines(
    names: Sequence[str], weeks: int, before_ms: int, cadence_spm: float, speed_mps: float
) -> Iterator[str]:
    """The final `run` points of `weeks` of runs of each runner (device `pod-{runner}`, team
    unassigned: the roster's default), all ending before `before_ms`."""
    segment, evaluation = template(cadence_spm, speed_mps)
    length = segment.end_ms
    starts = run_starts(weeks, before_ms)
    for offset, name in enumerate(names):
        device = f"pod-{name}"
        device_km = 0.0
        for start in starts:
            start += offset * 1000  # the runners do not all start in the same second
            moved = segment.model_copy({"start_ms": start, "end_ms": start + length})
            run = summarise(device, [moved], PARAMS)
            device_km += run.km
            verdict = evaluation.model_copy(update={"run": run, "device_km": round(device_km, 3)})
            yield run_point(name, UNASSIGNED, verdict, [moved])


def write_history(influx_url: str, db: str, lines: Iterator[str], batch: int = 5000) -> int:
    """Write the lines to InfluxDB 1.x in batches; how many were written."""
    written = 0
    with httpx.Client(timeout=120) as http:
        http.post(f"{influx_url}/query", data={"q": f'CREATE DATABASE "{db}"'}).raise_for_status()
        chunk: list[str] = []
        for line in lines:
            chunk.append(line)
            if len(chunk) >= batch:
                written += _post(http, influx_url, db, chunk)
                chunk = []
        if chunk:
            written += _post(http, influx_url, db, chunk)
    return written


def _post(http: httpx.Client, url: str, db: str, lines: list[str]) -> int:
    http.post(
        f"{url}/write", params={"db": db, "precision": "ms"}, content="\n".join(lines).encode()
    ).raise_for_status()
    return len(lines)


def read_back(influx_url: str, runners: Sequence[str]) -> tuple[int, int]:
    """The fewest runs any of `runners` has as each worker reads them back on first sight: the
    stream's seeded state (`streams.seed.seed_state`, one segment per whole run) and the alert
    worker's read-back (`footpod.schema.read_runs_of`, `alerts.worker.LOOK_BACK_DAYS`)."""

    async def read() -> tuple[int, int]:
        async with httpx.AsyncClient(timeout=60) as client:
            api = V1Api(client, Settings(influx_url=influx_url))
            states = [await seed_state(api, runner) for runner in runners]
            runs = await schema.read_runs_of(api.query, runners, LOOK_BACK_DAYS)
        seeded = min(sum(len(segments) for segments in state.devices.values()) if state else 0 for state in states)
        return seeded, min(len(runs.get(runner, ())) for runner in runners)

    return asyncio.run(read())
