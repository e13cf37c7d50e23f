"""RULES.md §6: the "pain mile" (000: ITBS pain tends to start at the same point of a run)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from itertools import combinations

from alerts.rules.decision import Decision
from alerts.rules.pain_gate import run_of, timing_of
from footpod.contract import PainReport
from footpod.records import RunSummary
from footpod.thresholds import DAY_MS, PAIN_MILE_RUNS, PAIN_MILE_TOLERANCE, PAIN_MILE_WINDOW_DAYS


def onsets(reports: Sequence[PainReport], runs: Sequence[RunSummary]) -> list[PainReport]:
    """The first during-run pain report with a distance of each run, in event-time order."""
    firsts: dict[str, PainReport] = {}
    # at one instant, the nearest onset; then by content, so arrival order never matters
    for report in sorted(set(reports), key=lambda r: (r.ts, r.distance_m or 0.0, r.model_dump_json())):
        run = run_of(report, runs)
        if report.distance_m is None or report.score < 1 or timing_of(report, run) != "during":
            continue
        firsts.setdefault(run.run_id if run else f"at-{report.ts}", report)
    return sorted(firsts.values(), key=lambda r: (r.ts, r.model_dump_json()))


def similar(distances: Sequence[float]) -> bool:
    """Every distance within ±15 % of their median (and the median above zero)."""
    middle = statistics.median(distances)
    return middle > 0 and all(abs(d - middle) <= PAIN_MILE_TOLERANCE * middle for d in distances)


def pain_mile(reports: Sequence[PainReport], runs: Sequence[RunSummary]) -> list[Decision]:
    """During-run pain starting at a similar distance in 3 runs of the trailing 28 days, not
    necessarily in a row: decided at the onset that completes such a set, once per run of onsets
    in which the pattern holds."""
    found = onsets(reports, runs)
    decisions, was_met = [], False
    for index, latest in enumerate(found):
        earlier = [o for o in found[:index] if latest.ts - o.ts < PAIN_MILE_WINDOW_DAYS * DAY_MS]
        matches = [
            (*group, latest)
            for group in combinations(earlier, PAIN_MILE_RUNS - 1)
            if similar([o.distance_m for o in (*group, latest)])
        ]
        if matches and not was_met:
            group = min(matches, key=lambda g: sorted(o.distance_m for o in g))  # a deterministic pick
            distances = [o.distance_m for o in group]
            middle = statistics.median(distances)
            decisions.append(
                Decision(
                    rule="pain_mile",
                    severity="info",
                    action="review_with_coach",
                    ts_ms=latest.ts,
                    message=(
                        f"Your knee pain started at about {middle / 1000:.1f} km in {PAIN_MILE_RUNS} of your runs "
                        f"of the last {PAIN_MILE_WINDOW_DAYS} days (each within "
                        f"{PAIN_MILE_TOLERANCE * 100:.0f} % of that). That pattern is typical of IT band "
                        "trouble: talk it through with your coach or physio."
                    ),
                    details={
                        "median_km": round(middle / 1000, 2),
                        "distances_km": ",".join(f"{d / 1000:.2f}" for d in distances),
                    },
                )
            )
        was_met = bool(matches)
    return decisions
