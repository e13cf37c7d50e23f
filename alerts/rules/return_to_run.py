"""RULES.md §5: the return-to-run protocol a coach opts a runner into (000, five phases).

The phases overlap as in the source; each applies through its own weeks (week 1 = the 7 days from
the start date). Phase 2 (strength work) is not measured here, so it has no rule and no status.
"""

from __future__ import annotations

from collections.abc import Sequence

from alerts.rules.decision import Decision, km
from footpod.contract import PainReport
from footpod.records import LoadSnapshot, RunEvaluation, RunSummary
from footpod.thresholds import DAY_MS, RTR_COMPLETE_WEEKS, RTR_PHASE1_MAX_SHARE, RTR_PHASE_WEEKS, GateName

WEEK_MS = 7 * DAY_MS


def week_of(start_ms: int, as_of_ms: int) -> int | None:
    """The protocol week of `as_of_ms` (1 from the start date on); None before the start."""
    return None if as_of_ms < start_ms else (as_of_ms - start_ms) // WEEK_MS + 1


def phases(start_ms: int, as_of_ms: int) -> list[int]:
    """Every phase whose weeks include `as_of_ms` (they overlap), in order."""
    week = week_of(start_ms, as_of_ms)
    if week is None:
        return []
    return [p for p, (first, last) in RTR_PHASE_WEEKS.items() if first <= week and (last is None or week <= last)]


def phase(start_ms: int, as_of_ms: int) -> int | None:
    """The latest phase begun by `as_of_ms` (what status `rtr_phase` shows); None before the start."""
    week = week_of(start_ms, as_of_ms)
    if week is None:
        return None
    return max(p for p, (first, _) in RTR_PHASE_WEEKS.items() if first <= week)


def completed(runs: Sequence[RunSummary], reports: Sequence[PainReport], normal_week_km: float, as_of_ms: int) -> bool:
    """Normal weekly distance for 3 weeks running, with no pain report of 1 or more meanwhile."""
    for week in range(RTR_COMPLETE_WEEKS):
        until = as_of_ms - week * WEEK_MS
        if sum(r.km for r in runs if until - WEEK_MS < r.end_ms <= until) < normal_week_km:
            return False
    since = as_of_ms - RTR_COMPLETE_WEEKS * WEEK_MS
    return not any(r.score >= 1 and since < r.ts <= as_of_ms for r in reports)


def protocol_week_km(load: LoadSnapshot, runs: Sequence[RunSummary], start_ms: int) -> float:
    """`week_km` less the runs of that week that began before the start date (they do not count
    for phase 1)."""
    before = sum(r.km for r in runs if r.start_ms < start_ms and load.as_of_ms - WEEK_MS < r.end_ms <= load.as_of_ms)
    return max(0.0, load.week_km - before)


def return_to_run(
    evaluation: RunEvaluation,
    runs: Sequence[RunSummary],
    reports: Sequence[PainReport],
    start_ms: int,
    normal_week_km: float,
    gate: GateName,
) -> list[Decision]:
    """Decisions for a finished run of a runner on the protocol, one per phase in force that has one."""
    load = evaluation.load
    current = phases(start_ms, load.as_of_ms)
    if not current or evaluation.live:
        return []
    details = {"phase": max(current), "week_km": round(load.week_km, 2), "normal_week_km": normal_week_km}
    decisions = []
    known = {run.run_id: run for run in (*runs, evaluation.run)}.values()
    week_km = protocol_week_km(load, list(known), start_ms)
    limit = RTR_PHASE1_MAX_SHARE * normal_week_km
    if 1 in current and week_km > limit:
        decisions.append(
            Decision(
                rule="rtr_over_limit",
                severity="warning",
                action="reduce_volume",
                ts_ms=load.as_of_ms,
                message=(
                    f"Return to run, phase 1: {km(week_km)} in the last 7 days, over the {km(limit)} limit "
                    f"({RTR_PHASE1_MAX_SHARE * 100:.0f} % of your normal {km(normal_week_km)}). Run less this week."
                ),
                details={**details, "phase": 1, "week_km": round(week_km, 2), "limit_km": round(limit, 2)},
            )
        )
    if 4 in current and gate != "progress" and load.week_km > load.prev_week_km:
        decisions.append(
            Decision(
                rule="rtr_over_limit",
                severity="warning",
                action="hold",
                ts_ms=load.as_of_ms,
                message=(
                    f"Return to run, phase 4: {km(load.week_km)} this week is more than last week's "
                    f"{km(load.prev_week_km)} while your knee gate is '{gate}'. "
                    "Only add distance while you are pain-free."
                ),
                details={**details, "phase": 4, "prev_week_km": round(load.prev_week_km, 2), "gate": gate},
            )
        )
    if 5 in current and completed(runs, reports, normal_week_km, load.as_of_ms):
        decisions.append(
            Decision(
                rule="rtr_complete",
                severity="info",
                action="resume_training",
                ts_ms=load.as_of_ms,
                message=(
                    f"Return to run complete: {RTR_COMPLETE_WEEKS} weeks at your normal "
                    f"{km(normal_week_km)} or more, pain-free. Back to normal training."
                ),
                details={**details, "phase": 5},
            )
        )
    return decisions


def in_cadence_phase(start_ms: int, as_of_ms: int) -> bool:
    """Phase 3 (cadence target) applies: weeks 2–6, also while phase 4 runs."""
    return 3 in phases(start_ms, as_of_ms)
