"""RULES.md §5: the return-to-run protocol a coach opts a runner into (000, five phases)."""

from __future__ import annotations

from collections.abc import Sequence

from footpod.contract import PainReport
from footpod.records import RunEvaluation, RunSummary
from alerts.rules.decision import Decision, km
from footpod.thresholds import (DAY_MS, RTR_COMPLETE_WEEKS, RTR_PHASE1_MAX_SHARE,
                                     RTR_PHASE_START_WEEKS)

WEEK_MS = 7 * DAY_MS


def phase(start_ms: int, as_of_ms: int) -> int | None:
    """The protocol phase by week since the start (1, 3, 4 or 5); None before it starts."""
    if as_of_ms < start_ms:
        return None
    week = (as_of_ms - start_ms) // WEEK_MS + 1
    return max(p for p, first_week in RTR_PHASE_START_WEEKS.items() if week >= first_week)


def completed(runs: Sequence[RunSummary], reports: Sequence[PainReport], normal_week_km: float,
              as_of_ms: int) -> bool:
    """Normal weekly distance for 3 weeks running, with no pain report of 1 or more meanwhile."""
    for week in range(RTR_COMPLETE_WEEKS):
        until = as_of_ms - week * WEEK_MS
        if sum(r.km for r in runs if until - WEEK_MS < r.end_ms <= until) < normal_week_km:
            return False
    since = as_of_ms - RTR_COMPLETE_WEEKS * WEEK_MS
    return not any(r.score >= 1 and since < r.ts <= as_of_ms for r in reports)


def return_to_run(evaluation: RunEvaluation, runs: Sequence[RunSummary], reports: Sequence[PainReport],
                  start_ms: int, normal_week_km: float, gate: str) -> list[Decision]:
    """Decisions for a finished run of a runner on the protocol."""
    load = evaluation.load
    current = phase(start_ms, load.as_of_ms)
    if current is None or evaluation.live:
        return []
    details = {"phase": current, "week_km": round(load.week_km, 2), "normal_week_km": normal_week_km}
    if current == 1 and load.week_km > RTR_PHASE1_MAX_SHARE * normal_week_km:
        limit = RTR_PHASE1_MAX_SHARE * normal_week_km
        return [Decision(rule="rtr_over_limit", severity="warning", action="reduce_volume", ts_ms=load.as_of_ms,
                         message=(f"Return to run, phase 1: {km(load.week_km)} in the last 7 days, over the "
                                  f"{km(limit)} limit (half your normal {km(normal_week_km)}). Run less this week."),
                         details={**details, "limit_km": round(limit, 2)})]
    if current == 4 and gate != "progress" and load.week_km > load.prev_week_km:
        return [Decision(rule="rtr_over_limit", severity="warning", action="hold", ts_ms=load.as_of_ms,
                         message=(f"Return to run, phase 4: {km(load.week_km)} this week is more than last week's "
                                  f"{km(load.prev_week_km)} while your knee gate is '{gate}'. "
                                  "Only add distance while you are pain-free."),
                         details={**details, "prev_week_km": round(load.prev_week_km, 2), "gate": gate})]
    if current == 5 and completed(runs, reports, normal_week_km, load.as_of_ms):
        return [Decision(rule="rtr_complete", severity="info", action="resume_training", ts_ms=load.as_of_ms,
                         message=(f"Return to run complete: {RTR_COMPLETE_WEEKS} weeks at your normal "
                                  f"{km(normal_week_km)} or more, pain-free. Back to normal training."),
                         details=details)]
    return []
