"""A live update from the stream to the alert worker, in-process: µs for each part of its way.

    .venv/bin/python bench/live_update.py [--days 70] [--updates 400]
    .venv/bin/python bench/live_update.py --against /path/to/other/checkout --rounds 5

A runner with `--days` of history (`bench/stream_memory.py`) runs live, a sample a second; each
step's update is packed into a Kafka record as the stream sends it (`pack`), read back as the alert
worker reads it (`unpack`), taken into the runner's memory (`take`), made into the runner's facts
(`facts`) and judged by the rules (`rules`); every tenth also makes and writes the runner's status
(`status`, a live status goes out every 10 s). The best of 7 passes per part, and the bytes of an
update. `--against` times another checkout's code too, in alternating child processes. Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from alternate import alternate
from live_step import runner
from stream_memory import PARAMS

from alerts.decide import alerts_for, status_of
from alerts.worker import AlertWorker, Memory
from footpod.contract import CountedSample
from footpod.kafka import create_app
from footpod.records import pack_updates, unpack_updates
from footpod.settings import Settings
from streams.step import Context, step

PARTS = ("pack", "unpack", "take", "facts", "rules", "status")


def live_updates(days: int, count: int) -> tuple[tuple, list]:
    """The runner's counted runs before its live run, and the updates of `count` live steps."""
    state, start = runner(days)
    known = tuple(state.all_runs(PARAMS).counted)
    updates = []
    for i in range(count):
        sample = CountedSample(ts=start + i * 1000, device_id="pod", cadence_spm=171.0, distance_m=3.0 * i)
        ctx = Context(now_ms=sample.ts + 200, params=PARAMS, team="t", full_window=i == 0, run_points=False)
        result = step(state, [sample], ctx)
        state = result.state
        updates.append(result.update)
    return known, updates


def timed(days: int, count: int) -> dict[str, float]:
    """µs per update of each part (best of 7 passes), and the bytes of a live update."""
    settings = Settings(_env_file=None)
    worker = AlertWorker(create_app(settings, "bench-live-update"), settings)
    known, updates = live_updates(days, count)
    best = dict.fromkeys(PARTS, float("inf"))
    for _ in range(7):
        memory = Memory(known, [], set())
        spent = dict.fromkeys(PARTS, 0.0)
        for i, update in enumerate(updates):
            t0 = time.perf_counter()
            ((_, value),) = pack_updates([update], lambda _runner: 0)
            t1 = time.perf_counter()
            (read,) = unpack_updates(value)
            t2 = time.perf_counter()
            runs, _ = memory.take(read)
            t3 = time.perf_counter()
            facts = worker.facts(read.runner, memory, runs)
            t4 = time.perf_counter()
            alerts_for(read, facts)
            t5 = time.perf_counter()
            if i % 10 == 0:
                status_of(memory.last_update, facts).model_dump_json()
            t6 = time.perf_counter()
            for part, began, ended in zip(PARTS, (t0, t1, t2, t3, t4, t5), (t1, t2, t3, t4, t5, t6), strict=True):
                spent[part] += ended - began
        for part in PARTS:
            best[part] = min(best[part], spent[part] / len(updates) * 1e6)
    sizes = [len(pack_updates([update], lambda _runner: 0)[0][1]) for update in updates[1:]]
    return {**best, "bytes": statistics.median(sizes)}


def line(result: dict[str, float]) -> str:
    parts = ", ".join(f"{part} {result[part]:.1f}" for part in PARTS)
    return f"µs per live update: {parts}; total {sum(result[p] for p in PARTS):.1f}; {result['bytes']:.0f} bytes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=70, help="days of the runner's history (default 70)")
    parser.add_argument("--updates", type=int, default=400, help="live updates timed (default 400)")
    parser.add_argument("--against", metavar="DIR", help="another checkout to time too, alternating with this one")
    parser.add_argument("--rounds", type=int, default=5, help="alternations with --against (default 5)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # a child's answer to --against
    args = parser.parse_args()
    if args.days < 1 or args.updates < 2:
        parser.error("--days must be at least 1 and --updates at least 2")
    if args.json:
        print(json.dumps(timed(args.days, args.updates)))
        return
    if not args.against:
        print(line(timed(args.days, args.updates)))
        return
    arguments = ["--days", str(args.days), "--updates", str(args.updates)]
    for tree, rounds in alternate(__file__, arguments, args.against, args.rounds).items():
        medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
        print(f"{tree}: median of {args.rounds} rounds, {line(medians)}")


if __name__ == "__main__":
    main()
