"""RSS growth per runner: `runners` runners with `weeks` of four 45-minute runs a week each.

    .venv/bin/python bench/memory_per_runner.py --runners 10000 --weeks 10

One runner's history is counted through `streams.step` as the stream counts it (each run synced,
then judged whole); every other runner holds its own copy of that state (parsed from its JSON, so
no object is shared), its runs summarised as a live step summarises them, and the alert worker's
memory of the runner (`alerts.worker.Memory`): its runs, and the stream's last update of it taken in
as the worker takes it (`Memory.take`). Prints one JSON line: RSS growth per runner, stream and
alert worker apart.
"""

from __future__ import annotations

import argparse
import gc
import json

import psutil

from alerts.worker import Memory
from footpod.contract import CountedSample
from footpod.records import RunnerUpdate, RunSummary
from footpod.settings import Settings
from streams.segments import load_params
from streams.state import RunnerState
from streams.step import Context, conclude, has_open_runs, step

T0 = 1_700_000_000_000
DAY_MS = 86_400_000
PARAMS = load_params(Settings())


def history(weeks: int) -> tuple[RunnerState, RunnerUpdate]:
    """The runner's state after `weeks` of runs, and the last update the stream sent of it."""
    state = RunnerState(runner="r")
    for week in range(weeks):
        for day in (0, 2, 4, 6):
            start = T0 + (week * 7 + day) * DAY_MS
            samples = [
                CountedSample(
                    ts=start + i * 1000, device_id="pod", cadence_spm=170.0 + i % 5, distance_m=3.0 * i, speed_mps=3.0
                )
                for i in range(2700)
            ]
            arrival = start + 2700_000
            state = step(state, samples, Context(now_ms=arrival, params=PARAMS, team="t")).state
            concluded = conclude(
                state, Context(now_ms=arrival + PARAMS.run_gap_ms + PARAMS.settle_ms, params=PARAMS, team="t")
            )
            state, update = concluded.state, concluded.update
    return state, update


def rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runners", type=int, default=10_000)
    parser.add_argument("--weeks", type=int, default=10)
    args = parser.parse_args()
    state, update = history(args.weeks)
    one, last = state.model_dump_json(), update.model_dump_json()
    before = rss()
    states: dict[str, RunnerState] = {}
    for n in range(args.runners):
        name = f"runner{n}"
        state = RunnerState.model_validate_json(one.replace('"runner":"r"', f'"runner":"{name}"'))
        state.all_runs(PARAMS)  # a step's summaries of the runs judged whole (its `History`)
        if not has_open_runs(state):
            state.forget_history()  # as the stream worker does for a runner at rest
        states[name] = state
    middle = rss()
    kept: dict[str, Memory] = {}
    for name, state in states.items():
        runs = state.runs(PARAMS)
        state.forget_history()  # the stream's memory, counted above; here the alert worker's only
        # as the worker holds a runner: every run of it (read back at a start, 80 days; the older ones
        # stay as updates come), then the stream's latest update of it taken in
        memory = kept[name] = Memory(
            tuple(RunSummary.model_validate_json(run.model_dump_json()) for run in runs), [], set()
        )
        memory.take(RunnerUpdate.model_validate_json(last.replace('"runner":"r"', f'"runner":"{name}"')))
    after = rss()
    runs = len(states["runner0"].runs(PARAMS))
    print(
        json.dumps(
            {
                "runners": args.runners,
                "weeks": args.weeks,
                "runs_per_runner": runs,
                "stream_kb": (middle - before) / args.runners / 1024,
                "alerts_kb": (after - middle) / args.runners / 1024,
                "per_runner_kb": (after - before) / args.runners / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
