"""History of any age (RULES.md §7): the daily `load` points a season imported at once needs, and
which alerts are published rather than only stored.

Pure: runs, instants and alerts in; days, loads and decisions out. The alert worker writes the
points and publishes (or only stores) the alerts.

A `load` point is written at every UTC midnight, as the daily round (`alerts.daily`) does for a
runner lived live. Runs that arrive after the midnights they change (a run synced late, a season
imported at once) rewrite those midnights: writing the same midnight again overwrites the point
(same series, same timestamp), so a re-import changes nothing.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from datetime import datetime

from alerts.decide import RunnerFacts
from alerts.points import load_point
from footpod.contract import Alert
from footpod.load import CHRONIC_DAYS, DAY_MS, EWMA_DAYS, WEEK_MS, load_at
from footpod.records import LoadSnapshot, RunnerUpdate, RunSummary

# the furthest back any load window looks (two weeks, the chronic 28 days, the EWMA's 56 days):
# a run changes the load of the midnights from its end until this many days later
REACH_DAYS = max(2 * WEEK_MS // DAY_MS, CHRONIC_DAYS, EWMA_DAYS)
REACH_MS = REACH_DAYS * DAY_MS


def midnights(first_ms: int, last_ms: int) -> list[int]:
    """The UTC midnights in [first_ms, last_ms]."""
    start = -(-first_ms // DAY_MS) * DAY_MS
    return list(range(start, last_ms + 1, DAY_MS))


def _key(run: RunSummary) -> tuple:
    # what the load depends on; the km rounded as the store keeps it, so a run read back from the
    # store and the same run from the stream are not taken for a change
    return run.run_id, run.device_id, run.end_ms, round(run.km, 3)


def load_days(old: Sequence[RunSummary], new: Sequence[RunSummary], now_ms: int) -> list[int]:
    """The midnights whose `load` point must be (re)written when a runner's runs go from `old` to
    `new`, up to today's midnight (the daily round writes today's; later ones are the future).

    - Every midnight a run added, changed or gone reaches: from its end for `REACH_DAYS`.
    - Every midnight from the runner's first run that had none yet: from the first new run to the
      first old one (to today for a runner new to the worker), rest days included, so the series
      has one point a day over the whole history, as if it had been lived live.
    A run today, or a run under way, rewrites nothing: today's midnight is before it.
    """
    today = now_ms // DAY_MS * DAY_MS
    before = {_key(run) for run in old}
    after = {_key(run) for run in new}
    changed = [run for run in new if _key(run) not in before] + [run for run in old if _key(run) not in after]
    days: set[int] = set()
    for run in changed:
        days.update(midnights(run.end_ms, min(run.end_ms + REACH_MS - 1, today)))
    if new:
        first_new = min(run.end_ms for run in new)
        first_old = min((run.end_ms for run in old), default=None)
        days.update(midnights(first_new, today if first_old is None else min(first_old - 1, today)))
    return sorted(days)


def loads_on(runs: Sequence[RunSummary], days: Iterable[int], first_seen_ms: int) -> list[LoadSnapshot]:
    """`load_at` on each of `days`, looking only at the runs its windows reach (`REACH_DAYS`), so a
    season of days over a season of runs stays linear. `runs` ordered by end."""
    ends = [run.end_ms for run in runs]
    loads = []
    for day in days:
        window = runs[bisect.bisect_right(ends, day - REACH_MS) : bisect.bisect_right(ends, day)]
        loads.append(load_at(window, day, first_seen_ms))
    return loads


def event_ms(alert: Alert) -> int:
    """The alert's event time (`ts`, ISO 8601 UTC) in ms."""
    return int(datetime.fromisoformat(alert.ts.replace("Z", "+00:00")).timestamp() * 1000)


def is_pushed(alert: Alert, now_ms: int, within_days: float) -> bool:
    """RULES.md §7: an alert is published on MQTT and to notifications when its event time is at
    most `within_days` before now (late data up to a week); an older one, caused by history, is
    stored and shown by `status` only: nobody is woken for last March."""
    return now_ms - event_ms(alert) <= within_days * DAY_MS


def reaches_past_midnights(update: RunnerUpdate, now_ms: int) -> bool:
    """Whether an update may change a midnight up to today's: a run it touched began before today's
    midnight. The stream's runs change only where an update touches them (a run it replaces
    overlaps it in time), so a live run of today, the usual update, changes none and costs nothing."""
    today = now_ms // DAY_MS * DAY_MS
    return any(evaluation.run.start_ms <= today for evaluation in update.touched)


def daily_load_lines(facts: RunnerFacts, old: Sequence[RunSummary], now_ms: int) -> list[str]:
    """The `load` points (at midnight, with the gate in force then) of the midnights `load_days`
    names, when the runner's runs went from `old` to `facts.runs`."""
    days = load_days(old, facts.runs, now_ms)
    if not days:
        return []
    first_seen = min(run.start_ms for run in facts.runs)  # as the daily round counts history
    return [
        load_point(facts.runner, facts.team, load, facts.gate(load.as_of_ms).action)
        for load in loads_on(facts.runs, days, first_seen)
    ]
