"""Load in numbers (RULES.md §1): plain functions of a runner's runs and an instant of event time.

Shared by the stream (a run's load at its end) and the alert worker (the load now, budgets).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from footpod.records import LoadSnapshot, RunSummary

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
CHRONIC_DAYS = 28  # RULES.md §1 chronic_week_km: trailing 28 days / 4
BASELINE_DAYS = 28  # RULES.md §1 cadence baseline: previous 28 days
BASELINE_MIN_RUNS = 3  # RULES.md §1 cadence baseline: at least 3 runs
EWMA_ACUTE = 2 / (7 + 1)  # Williams et al. 2017, λa
EWMA_CHRONIC = 2 / (28 + 1)  # Williams et al. 2017, λc
EWMA_DAYS = 56  # days of daily load the EWMA walks through; older days weigh < 2 % in λc


def km_between(runs: Sequence[RunSummary], after_ms: int, until_ms: int) -> float:
    """Distance of the runs that end in (after_ms, until_ms]: a run counts where it ends."""
    return sum(run.km for run in runs if after_ms < run.end_ms <= until_ms)


def load_at(runs: Sequence[RunSummary], as_of_ms: int, first_seen_ms: int) -> LoadSnapshot:
    """The runner's load at `as_of_ms`, from the runs known then: `km_between` the week, the week
    before and the 28 days, and `daily_km`, in one pass over the runs (the stream evaluates a live
    run once a second), each summed over the same runs in the same order as those functions."""
    return load_before(runs, as_of_ms).load_at(as_of_ms, first_seen_ms)


@dataclass(frozen=True)
class LoadBefore:
    """`load_at`'s sums over some runs, as they stand at any instant in [since_ms, until_ms): each
    run stays in the same windows and the same day for that long (the windows are whole days).

    A live run is evaluated at its end once a second; the runs before it are the same runs, so the
    stream keeps their sums and adds the live run to them (`load_at(..., km)`), instead of going
    through the runner's last eight weeks again at every sample."""

    since_ms: int
    until_ms: int
    week_kms: tuple[float, ...]  # ends in (as_of - 7 d, as_of], in order
    prev_kms: tuple[float, ...]  # ends in (as_of - 14 d, as_of - 7 d]
    chronic_kms: tuple[float, ...]  # ends in (as_of - 28 d, as_of]
    daily: tuple[float, ...]  # `daily_km(runs, as_of, EWMA_DAYS)`
    walked: tuple[float, float, bool]  # the EWMA through every day but the last (`_walk`)

    def load_at(self, as_of_ms: int, first_seen_ms: int, km: float | None = None) -> LoadSnapshot:
        """`load_at(runs, as_of_ms, first_seen_ms)` of these runs, followed (if `km` is given) by a
        run of `km` that ends at `as_of_ms` after all of them: the same floats, summed in the same order."""
        if not self.since_ms <= as_of_ms < self.until_ms:
            raise ValueError(f"the sums hold for [{self.since_ms}, {self.until_ms}), not at {as_of_ms}")
        week_kms, prev_kms, chronic_kms, last_day = self.week_kms, self.prev_kms, self.chronic_kms, self.daily[-1]
        if km is not None:
            week_kms, chronic_kms, last_day = (*week_kms, km), (*chronic_kms, km), last_day + km
        week, prev, chronic = sum(week_kms), sum(prev_kms), sum(chronic_kms) / 4
        acute_ewma, chronic_ewma, _ = _walk((last_day,), *self.walked)
        return LoadSnapshot(
            as_of_ms=as_of_ms,
            week_km=week,
            prev_week_km=prev,
            change_pct=change_pct(week, prev),
            chronic_week_km=chronic,
            acwr=week / chronic if chronic > 0 else None,
            acwr_ewma=acute_ewma / chronic_ewma if chronic_ewma > 0 else None,
            history_days=max(0.0, (as_of_ms - first_seen_ms) / DAY_MS),
        )


def load_before(runs: Sequence[RunSummary], as_of_ms: int) -> LoadBefore:
    """`load_at`'s sums over `runs` at `as_of_ms`, in one pass, and how long they hold."""
    week_kms: list[float] = []
    prev_kms: list[float] = []
    chronic_kms: list[float] = []
    daily = [0.0] * EWMA_DAYS
    next_day = DAY_MS  # the soonest a run moves to another day (or its end comes)
    for run in runs:
        age = as_of_ms - run.end_ms
        if age < 0:
            next_day = min(next_day, -age)
            continue
        if age >= EWMA_DAYS * DAY_MS:
            continue
        next_day = min(next_day, DAY_MS - age % DAY_MS)
        km = run.km
        if age < WEEK_MS:
            week_kms.append(km)
        elif age < 2 * WEEK_MS:
            prev_kms.append(km)
        if age < CHRONIC_DAYS * DAY_MS:
            chronic_kms.append(km)
        daily[EWMA_DAYS - 1 - age // DAY_MS] += km
    return LoadBefore(
        since_ms=as_of_ms,
        until_ms=as_of_ms + next_day,
        week_kms=tuple(week_kms),
        prev_kms=tuple(prev_kms),
        chronic_kms=tuple(chronic_kms),
        daily=tuple(daily),
        walked=_walk(daily[:-1]),
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
    acute, chronic, _ = _walk(daily)
    return acute / chronic if chronic > 0 else None


def _walk(
    daily: Sequence[float], acute: float = 0.0, chronic: float = 0.0, started: bool = False
) -> tuple[float, float, bool]:
    """The acute and chronic EWMA after `daily`, from `acute` and `chronic` (nothing counts before
    the first active day: `started`)."""
    if not started:
        first = next((index for index, load in enumerate(daily) if load > 0), None)
        if first is None:
            return acute, chronic, False
        daily = daily[first:]
    keep_acute, keep_chronic = 1 - EWMA_ACUTE, 1 - EWMA_CHRONIC
    for load in daily:
        acute = EWMA_ACUTE * load + keep_acute * acute
        chronic = EWMA_CHRONIC * load + keep_chronic * chronic
    return acute, chronic, True


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
