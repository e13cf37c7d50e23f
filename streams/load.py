"""Runs and load in numbers (RULES.md §1): plain functions of runs and an instant of event time."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from footpod.records import LoadSnapshot, RunSummary
from streams.segments import LoadParams, Segment, distance_step

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
CHRONIC_DAYS = 28  # RULES.md §1 chronic_week_km: trailing 28 days / 4
BASELINE_DAYS = 28  # RULES.md §1 cadence baseline: previous 28 days
BASELINE_MIN_RUNS = 3  # RULES.md §1 cadence baseline: at least 3 runs
EWMA_ACUTE = 2 / (7 + 1)  # Williams et al. 2017, λa
EWMA_CHRONIC = 2 / (28 + 1)  # Williams et al. 2017, λc
EWMA_DAYS = 56  # days of daily load the EWMA walks through; older days weigh < 2 % in λc


def group_runs(segments: Sequence[Segment], params: LoadParams) -> list[list[Segment]]:
    """A device's time-ordered segments grouped into the runs they make."""
    groups: list[list[Segment]] = []
    for segment in segments:
        if groups and same_run(groups[-1][-1], segment, params):
            groups[-1].append(segment)
        else:
            groups.append([segment])
    return groups


def same_run(a: Segment, b: Segment, params: LoadParams) -> bool:
    if a.run_id is not None and b.run_id is not None:
        return a.run_id == b.run_id
    return b.start_ms - a.end_ms <= params.run_gap_ms


def summarise(device_id: str, group: Sequence[Segment], params: LoadParams) -> RunSummary:
    meters = sum(segment.meters for segment in group)
    for a, b in zip(group, group[1:]):
        meters += distance_step(a.last_m, b.first_m, b.start_ms - a.end_ms, params.glitch_mps)
    running = sum(segment.running_samples for segment in group)
    spm_sum = sum(segment.running_spm_sum for segment in group)
    first = group[0]
    return RunSummary(
        run_id=first.run_id or f"{device_id}@{first.start_ms}",
        device_id=device_id,
        start_ms=first.start_ms,
        end_ms=group[-1].end_ms,
        km=meters / 1000,
        samples=sum(segment.samples for segment in group),
        cadence_spm=spm_sum / running if running else None,
    )


def km_between(runs: Sequence[RunSummary], after_ms: int, until_ms: int) -> float:
    """Distance of the runs that end in (after_ms, until_ms]: a run counts where it ends."""
    return sum(run.km for run in runs if after_ms < run.end_ms <= until_ms)


def load_at(runs: Sequence[RunSummary], as_of_ms: int, first_seen_ms: int) -> LoadSnapshot:
    """The runner's load at `as_of_ms`, from the runs known then."""
    week = km_between(runs, as_of_ms - WEEK_MS, as_of_ms)
    prev = km_between(runs, as_of_ms - 2 * WEEK_MS, as_of_ms - WEEK_MS)
    chronic = km_between(runs, as_of_ms - CHRONIC_DAYS * DAY_MS, as_of_ms) / 4
    return LoadSnapshot(
        as_of_ms=as_of_ms,
        week_km=week,
        prev_week_km=prev,
        change_pct=change_pct(week, prev),
        chronic_week_km=chronic,
        acwr=week / chronic if chronic > 0 else None,
        acwr_ewma=acwr_ewma(daily_km(runs, as_of_ms, EWMA_DAYS)),
        history_days=max(0.0, (as_of_ms - first_seen_ms) / DAY_MS),
    )


def change_pct(week_km: float, prev_week_km: float) -> float | None:
    """Week-on-week change in percent; absent while the week before is empty."""
    if prev_week_km <= 0:
        return None
    return (week_km - prev_week_km) / prev_week_km * 100


def daily_km(runs: Sequence[RunSummary], as_of_ms: int, days: int) -> list[float]:
    """Distance per trailing 24 h, oldest day first, the last ending at `as_of_ms`."""
    totals = [0.0] * days
    for run in runs:
        age = as_of_ms - run.end_ms
        if 0 <= age < days * DAY_MS:
            totals[days - 1 - age // DAY_MS] += run.km
    return totals


def acwr_ewma(daily: Sequence[float]) -> float | None:
    """Acute over chronic exponentially weighted load (Williams et al. 2017), from the first active day."""
    acute = chronic = 0.0
    started = False
    for load in daily:
        started = started or load > 0
        if started:
            acute = EWMA_ACUTE * load + (1 - EWMA_ACUTE) * acute
            chronic = EWMA_CHRONIC * load + (1 - EWMA_CHRONIC) * chronic
    return acute / chronic if chronic > 0 else None


def cadence_baseline(runs: Sequence[RunSummary], before_ms: int) -> float | None:
    """Median run cadence of the 28 days before `before_ms`; absent with fewer than 3 runs."""
    cadences = [
        run.cadence_spm
        for run in runs
        if run.cadence_spm is not None and before_ms - BASELINE_DAYS * DAY_MS <= run.end_ms < before_ms
    ]
    if len(cadences) < BASELINE_MIN_RUNS:
        return None
    return statistics.median(cadences)


def cadence_dev_pct(cadence_spm: float | None, baseline_spm: float | None) -> float | None:
    if cadence_spm is None or not baseline_spm:
        return None
    return (cadence_spm - baseline_spm) / baseline_spm * 100
