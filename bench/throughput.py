"""Throughput of the pipeline's hot paths, and of the whole pipeline on local servers.

    .venv/bin/python bench/throughput.py            # the pure stages, in-process
    .venv/bin/python bench/throughput.py --pipeline # also MQTT -> bridge -> Kafka -> stream -> InfluxDB

Prints samples per second per stage and the ratio to the 200,000 samples/s target.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from footpod.contract import Sample, SampleBatch
from footpod.settings import Settings
from ingest.validate import judge
from streams.points import cadence_points
from streams.segments import load_params
from streams.state import RunnerState, count_samples
from streams.step import Context, step

TARGET = 200_000
T0 = 1_764_000_000_000


def synced_run(runner: int, start_ms: int, count: int) -> list[dict]:
    return [
        {
            "ts": start_ms + i * 1000,
            "device_id": f"pod-{runner}",
            "cadence_spm": 170 + i % 7,
            "distance_m": i * 3.1,
            "speed_mps": 3.1,
        }
        for i in range(count)
    ]


def timed(fn, repeat: int = 5) -> float:
    """Median seconds of `repeat` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_validate(payloads: list[bytes]) -> float:
    now = T0 + 30 * 86_400_000  # every sample is in the past
    return timed(lambda: [judge("footpod/r/samples", p, now, 300_000) for p in payloads])


def bench_decode(records: list[bytes]) -> float:
    return timed(lambda: [SampleBatch.model_validate_json(r) for r in records])


def bench_count(batches: list[list[Sample]]) -> float:
    params = load_params(Settings())

    def run() -> None:
        state = RunnerState(runner="r")
        for batch in batches:
            state = count_samples(state, batch, params).state

    return timed(run)


def bench_step(batches: list[list[Sample]]) -> float:
    ctx = Context(now_ms=T0 + 30 * 86_400_000, params=load_params(Settings()), team="t")

    def run() -> None:
        state = RunnerState(runner="r")
        for batch in batches:
            state = step(state, batch, ctx).state

    return timed(run)


def bench_points(batches: list[list[Sample]]) -> float:
    return timed(lambda: [cadence_points("r", "t", batch) for batch in batches])


def core(samples_per_run: int, runs: int, console: Console) -> None:
    raw = [synced_run(0, T0 + k * 86_400_000, samples_per_run) for k in range(runs)]
    payloads = [json.dumps(r).encode() for r in raw]
    batches = [[Sample.model_validate(s) for s in r] for r in raw]
    records = [SampleBatch(runner="r", received_ms=T0, samples=tuple(b)).model_dump_json().encode() for b in batches]
    live = [[s] for s in batches[0]]
    total = samples_per_run * runs
    table = Table(title=f"pure stages, {total:,} samples ({runs} synced runs of {samples_per_run})")
    for column in ("stage", "seconds", "samples/s", "× target"):
        table.add_column(column, justify="right")
    rows = [
        ("bridge: validate JSON arrays", bench_validate(payloads), total),
        ("stream: decode Kafka records", bench_decode(records), total),
        ("stream: count once, cut runs (synced)", bench_count(batches), total),
        ("stream: count once (live, 1 per step)", bench_count(live), len(live)),
        ("stream: cadence points", bench_points(batches), total),
        ("stream: whole step (synced)", bench_step(batches), total),
        ("stream: whole step (live, 1 per step)", bench_step(live[:600]), 600),
    ]
    for name, seconds, count in rows:
        rate = count / seconds
        table.add_row(name, f"{seconds:.3f}", f"{rate:,.0f}", f"{rate / TARGET:.2f}")
    console.print(table)


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop the servers it started
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples-per-run", type=int, default=3600)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pipeline", action="store_true", help="also time the whole pipeline on local servers")
    parser.add_argument("--runners", type=int, default=20, help="runners in the pipeline run")
    args = parser.parse_args()
    console = Console()
    core(args.samples_per_run, args.runs, console)
    if args.pipeline:
        sys.path.insert(0, str(Path(__file__).parent))
        from pipeline_bench import pipeline

        pipeline(args.runners, args.samples_per_run, console)


if __name__ == "__main__":
    main()
