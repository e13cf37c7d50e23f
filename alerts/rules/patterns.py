"""RULES.md §6: the "pain mile" (000: ITBS pain tends to start at the same point of a run)."""

from __future__ import annotations

from collections.abc import Sequence

from footpod.contract import PainReport
from footpod.records import RunSummary
from alerts.rules.decision import Decision
from alerts.rules.pain_gate import run_of, timing_of
from footpod.thresholds import PAIN_MILE_RUNS, PAIN_MILE_TOLERANCE


def pain_mile(reports: Sequence[PainReport], runs: Sequence[RunSummary]) -> list[Decision]:
    """During-run pain starting within ±15 % of the same distance in 3 runs in a row."""
    firsts: dict[str, PainReport] = {}
    for report in sorted(reports, key=lambda r: (r.ts, r.distance_m or 0.0)):  # at one instant, the nearest onset
        run = run_of(report, runs)
        if report.distance_m is None or report.score < 1 or timing_of(report, run) != "during":
            continue
        firsts.setdefault(run.run_id if run else f"at-{report.ts}", report)
    onsets = sorted(firsts.values(), key=lambda r: r.ts)
    decisions = []
    for end in range(PAIN_MILE_RUNS, len(onsets) + 1):
        window = onsets[end - PAIN_MILE_RUNS:end]
        distances = [r.distance_m for r in window]
        mean = sum(distances) / len(distances)
        if mean > 0 and all(abs(d - mean) <= PAIN_MILE_TOLERANCE * mean for d in distances):
            decisions.append(Decision(
                rule="pain_mile", severity="info", action="review_with_coach", ts_ms=window[-1].ts,
                message=(f"Your knee pain started at about {mean / 1000:.1f} km in each of your last "
                         f"{PAIN_MILE_RUNS} runs. That pattern is typical of IT band trouble: "
                         "talk it through with your coach or physio."),
                details={"mean_km": round(mean / 1000, 2),
                         "distances_km": ",".join(f"{d / 1000:.2f}" for d in distances)},
            ))
    return decisions
