"""Stream memory and step cost per runner with a year of history, at 1 s, 5 s and 1-10 s sampling.

    .venv/bin/python bench/stream_memory.py [--days 365]

A year of daily 45-minute runs is counted as the stream counts a season imported at once (each
run one message, judged whole 30 s after it), then one live step is timed on top of it. Prints the
state's size (segments, bytes of its JSON form, Python heap held by it) and the cost of a live step
and of a whole-run verdict; nothing is asserted.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
import tracemalloc

from rich.console import Console
from rich.table import Table

from footpod.contract import CountedSample
from footpod.settings import Settings
from streams.segments import load_params
from streams.state import RunnerState
from streams.step import Context, conclude, step

T0 = 1_700_000_000_000
DAY_MS = 86_400_000
PARAMS = load_params(Settings())


def season(days: int, every: str, rng: random.Random) -> list[list[CountedSample]]:
    runs = []
    for day in range(days):
        start, end = T0 + day * DAY_MS, T0 + day * DAY_MS + 45 * 60_000
        times, ts = [], start
        while ts <= end:
            times.append(ts)
            ts += {"1s": 1000, "5s": 5000}.get(every) or rng.randint(1000, 10_000)
        runs.append(
            [
                CountedSample(ts=t, device_id="pod", cadence_spm=170.0, distance_m=3.0 * (t - start) / 1000)
                for t in times
            ]
        )
    return runs


def build(days: int, every: str) -> tuple[RunnerState, int, float]:
    rng = random.Random(7)
    runs = season(days, every, rng)
    now = T0 + (days + 1) * DAY_MS
    state = RunnerState(runner="r")
    started = time.perf_counter()
    for index, samples in enumerate(runs):
        arrival = now + index * 60_000
        state = step(state, samples, Context(now_ms=arrival, params=PARAMS, team="t")).state
        state = conclude(state, Context(now_ms=arrival + PARAMS.settle_ms, params=PARAMS, team="t")).state
    return state, sum(len(r) for r in runs), time.perf_counter() - started


def heap_bytes(make) -> tuple[object, int]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    value = make()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return value, after - before


def live_step_ms(state: RunnerState, days: int) -> tuple[float, float]:
    """Median ms of one live 1-sample step, and of judging that live run whole, on top of `state`."""
    start = T0 + (days + 2) * DAY_MS
    times, verdicts = [], []
    for i in range(50):
        sample = CountedSample(ts=start + i * 1000, device_id="pod", cadence_spm=171.0, distance_m=3.0 * i)
        began = time.perf_counter()
        state = step(state, [sample], Context(now_ms=sample.ts + 200, params=PARAMS, team="t")).state
        times.append(time.perf_counter() - began)
    began = time.perf_counter()
    conclude(state, Context(now_ms=start + 50_000 + PARAMS.run_gap_ms + PARAMS.settle_ms, params=PARAMS, team="t"))
    verdicts.append(time.perf_counter() - began)
    return statistics.median(times) * 1000, verdicts[0] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    table = Table(title=f"stream state per runner, {args.days} days of 45-minute runs")
    for column in (
        "sampling",
        "samples",
        "runs",
        "segments",
        "state JSON",
        "heap",
        "count+judge",
        "live step",
        "verdict",
    ):
        table.add_column(column, justify="right")
    for every in ("1s", "5s", "1-10s"):
        (state, samples, seconds), heap = heap_bytes(lambda every=every: build(args.days, every))
        segments = sum(len(s) for s in state.devices.values())
        step_ms, verdict_ms = live_step_ms(state, args.days)
        table.add_row(
            every,
            f"{samples:,}",
            f"{len(state.runs(PARAMS)):,}",
            f"{segments:,}",
            f"{len(state.model_dump_json()) / 1024:.0f} KiB",
            f"{heap / 1024:.0f} KiB",
            f"{seconds:.1f} s",
            f"{step_ms:.2f} ms",
            f"{verdict_ms:.1f} ms",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
