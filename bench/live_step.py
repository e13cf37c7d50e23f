"""The pure stream step for one live sample: median µs per `streams.step.step(state, [sample], ctx)`.

    .venv/bin/python bench/live_step.py [--days 70] [--steps 600] [--profile]
    .venv/bin/python bench/live_step.py --against /path/to/other/checkout --rounds 5

A live runner sends a sample a second and the stream steps it once per sample. Timed twice: on a
runner with no history (one earlier sample only) and on one with `--days` of daily 45-minute runs
(`bench/stream_memory.py`, 1-10 s sampling, each run judged whole). `--against` times another
checkout's code too, in alternating child processes, so both see the same load on the machine.
Prints medians; nothing is asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import time

from alternate import alternate
from stream_memory import DAY_MS, PARAMS, T0, build

from footpod.contract import CountedSample
from streams.state import RunnerState
from streams.step import Context, step


def runner(days: int) -> tuple[RunnerState, int]:
    """A runner's state with `days` of history (0: one sample two days ago), and when its live run starts."""
    if days == 0:
        first = CountedSample(ts=T0 - 2 * DAY_MS, device_id="pod", cadence_spm=171.0, distance_m=0.0)
        return step(RunnerState(runner="r"), [first], Context(now_ms=T0, params=PARAMS, team="t")).state, T0
    state, _, _ = build(days, "1-10s")
    return state, T0 + (days + 2) * DAY_MS


def live(state: RunnerState, start: int, steps: int) -> tuple[list[float], list[float]]:
    """Seconds of each of `steps` live steps, a sample a second from `start`: wall clock, and this
    thread's CPU time (less disturbed by other processes on a busy machine)."""
    wall, cpu = [], []
    for i in range(steps):
        sample = CountedSample(ts=start + i * 1000, device_id="pod", cadence_spm=171.0, distance_m=3.0 * i)
        began, began_cpu = time.perf_counter(), time.thread_time()
        state = step(state, [sample], Context(now_ms=sample.ts + 200, params=PARAMS, team="t")).state
        cpu.append(time.thread_time() - began_cpu)
        wall.append(time.perf_counter() - began)
    return wall, cpu


def medians(days: int, steps: int) -> list[float]:
    """Median µs per live step, wall and CPU, with no history, then with `days` of it."""
    result = []
    for history in (0, days):
        state, start = runner(history)
        result.extend(statistics.median(times) * 1e6 for times in live(state, start, steps))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=70, help="days of history of the second runner (default 70)")
    parser.add_argument("--steps", type=int, default=600, help="live steps timed per runner (default 600)")
    parser.add_argument("--profile", action="store_true", help="then a cProfile of the steps with history, by tottime")
    parser.add_argument("--against", metavar="DIR", help="another checkout to time too, alternating with this one")
    parser.add_argument("--rounds", type=int, default=5, help="alternations with --against (default 5)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # a child's answer to --against
    args = parser.parse_args()
    if args.days < 1:
        parser.error("--days must be at least 1 (the runner with no history is timed anyway)")
    if args.json:
        print(json.dumps(medians(args.days, args.steps)))
        return
    if args.against:
        times = alternate(__file__, ["--days", str(args.days), "--steps", str(args.steps)], args.against, args.rounds)
        for tree, rounds in times.items():
            wall0, cpu0, wall, cpu = (statistics.median(r[i] for r in rounds) for i in range(4))
            print(
                f"{tree}: median µs per live step (wall/CPU), no history {wall0:.0f}/{cpu0:.0f}, "
                f"{args.days} days {wall:.0f}/{cpu:.0f} ({args.rounds} rounds)"
            )
        return
    wall0, cpu0, wall, cpu = medians(args.days, args.steps)
    print(
        f"median µs per live step (wall/CPU): no history {wall0:.0f}/{cpu0:.0f}, {args.days} days {wall:.0f}/{cpu:.0f}"
    )
    if args.profile:
        state, start = runner(args.days)
        profile = cProfile.Profile()
        profile.runcall(live, state, start, args.steps)
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
