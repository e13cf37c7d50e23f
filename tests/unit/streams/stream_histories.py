"""Runs as a device would record them, at any sampling rate, for the stream's unit tests."""

from __future__ import annotations

import random

from footpod.contract import Sample
from footpod.settings import Settings
from streams.segments import LoadParams, load_params
from streams.state import RunnerState
from streams.step import Context, conclude, step

PARAMS = load_params(Settings())
T0 = 1_763_000_000_000


def timestamps(start_ms: int, seconds: int, every: str, rng: random.Random) -> list[int]:
    """Sample times of a run of `seconds` (a multiple of 10): every 1 s, every 5 s, or every
    1-10 s at random ("smart recording"); all three hold the run's first and last instant."""
    end = start_ms + seconds * 1000
    if every == "1s":
        return list(range(start_ms, end + 1, 1000))
    if every == "5s":
        return list(range(start_ms, end + 1, 5000))
    times = [start_ms]
    while times[-1] < end:
        times.append(min(end, times[-1] + rng.randint(1000, 10_000)))
    if len(times) > 2 and times[-1] - times[-2] < 1000:
        # such a device records at most once a second: the run's last instant takes the place of a
        # sample less than a second before it (a gap no device makes, within a segment's claim)
        del times[-2]
    return times


def run(
    start_ms: int,
    seconds: int,
    every: str = "1s",
    device: str = "pod",
    mps: float = 3.0,
    spm: float = 170.0,
    rng: random.Random | None = None,
    run_id: str | None = None,
    start_m: float = 0.0,
) -> list[Sample]:
    """One run at a steady pace: the device's cumulative distance grows `mps` metres a second."""
    rng = rng or random.Random(0)
    return [
        Sample(
            ts=ts, device_id=device, cadence_spm=spm, distance_m=start_m + mps * (ts - start_ms) / 1000, run_id=run_id
        )
        for ts in timestamps(start_ms, seconds, every, rng)
    ]


def ctx(now_ms: int, params: LoadParams = PARAMS) -> Context:
    return Context(now_ms=now_ms, params=params, team="harriers")


def deliver(batches, first_arrival_ms: int, every_ms: int = 1000, state: RunnerState | None = None):
    """Each batch through `step`, `every_ms` apart; returns the state and every step's result."""
    state = state or RunnerState(runner="alice")
    results = []
    for index, batch in enumerate(batches):
        result = step(state, batch, ctx(first_arrival_ms + index * every_ms))
        state = result.state
        results.append(result)
    return state, results


def settle(state: RunnerState, now_ms: int):
    """What the stream's timer does once nothing has arrived for a while: judge whole runs."""
    return conclude(state, ctx(now_ms))


def shuffled_batches(samples: list[Sample], rng: random.Random, pieces: int, repeats: int) -> list[list[Sample]]:
    """The samples with some sent twice, in random order, cut into `pieces` messages."""
    sent = samples + rng.sample(samples, k=min(len(samples), repeats * len(samples) // 4))
    rng.shuffle(sent)
    cuts = sorted(rng.sample(range(1, len(sent)), k=min(pieces - 1, len(sent) - 1)))
    return [sent[a:b] for a, b in zip([0, *cuts], [*cuts, len(sent)])]
