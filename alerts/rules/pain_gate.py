"""RULES.md §3: the pain gate (the 24-hour rule), red flags, and pain that does not settle.

Each report gets a decision from the table of §3; the gate at an instant is the most severe
decision still in force then. Everything here is a function of the reports and runs given,
whatever order they arrived in.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from footpod.contract import PainReport, Severity
from footpod.records import RunSummary
from alerts.rules.decision import Decision
from footpod.thresholds import (DAY_MS, GATE_MEMORY_DAYS, NEXT_DAY_CHECK_HOURS, PAIN_MAINTAIN,
                                     PAIN_REDUCE, PHYSIO_MIN_DAYS, PHYSIO_SPAN_DAYS, PHYSIO_WINDOW_DAYS)

# least to most severe (RULES.md §3 table)
GATES = ("progress", "continue_no_increase", "maintain", "reduce_volume", "stop_run", "see_clinician")
SEVERITY: dict[str, Severity] = {
    "continue_no_increase": "info", "maintain": "warning", "reduce_volume": "warning",
    "stop_run": "critical", "see_clinician": "critical",
}


def rank(gate: str) -> int:
    return GATES.index(gate)


class Gate(BaseModel):
    """The gate in force, and the report that set it (None for `progress`)."""

    model_config = ConfigDict(frozen=True)

    action: str
    set_by: PainReport | None = None
    run_id: str | None = None


def run_of(report: PainReport, runs: Sequence[RunSummary]) -> RunSummary | None:
    """The run a report is about: the one it names, the one under way, or the latest that ended before it."""
    if report.run_id is not None:
        named = [run for run in runs if run.run_id == report.run_id]
        if named:
            return named[0]
    during = [run for run in runs if run.start_ms <= report.ts <= run.end_ms]
    if during:  # runs overlap (two footpods): the one started last, whatever order the runs came in
        return max(during, key=lambda run: (run.start_ms, run.end_ms, run.run_id))
    before = [run for run in runs if run.end_ms < report.ts]
    return max(before, key=lambda run: (run.end_ms, run.start_ms, run.run_id)) if before else None


def timing_of(report: PainReport, run: RunSummary | None) -> str:
    """`during`, `after` or `next_day`: as reported, else from the report's age since its run's end."""
    if report.timing is not None:
        return report.timing
    if run is None:
        return "after"
    age_ms = report.ts - run.end_ms
    if age_ms < 0:
        return "during"
    return "next_day" if age_ms >= NEXT_DAY_CHECK_HOURS * 3_600_000 else "after"


def is_clear(report: PainReport) -> bool:
    """No pain, no red flag, not worse: the report that lets a gate change back."""
    return report.score == 0 and not report.flags and not report.worsening


def decision_of(report: PainReport, timing: str) -> str:
    """RULES.md §3 table, most severe row first."""
    if report.flags:
        return "see_clinician"
    if report.worsening:
        return "stop_run"
    if report.score >= PAIN_REDUCE or (timing == "next_day" and report.score >= 1):
        return "reduce_volume"
    if report.score == PAIN_MAINTAIN:
        return "maintain"
    if report.score >= 1:
        return "continue_no_increase"
    return "progress"


def gate_at(reports: Sequence[PainReport], runs: Sequence[RunSummary], as_of_ms: int) -> Gate:
    """The most severe decision in force at `as_of_ms`.

    A decision is in force from its report for 7 days (the trailing-7-day memory), and after
    that until a clear report (score 0, no red flag, not worse) has come after it: the gate
    changes back only on such a report, and never before the 7 days are over.
    """
    known = sorted((r for r in reports if r.ts <= as_of_ms), key=lambda r: r.ts)
    clears = [r.ts for r in known if is_clear(r)]
    strongest = Gate(action="progress")
    for report in known:
        run = run_of(report, runs)
        action = decision_of(report, timing_of(report, run))
        if rank(action) < rank(strongest.action) or not _in_force(report, action, clears, as_of_ms):
            continue
        strongest = Gate(action=action, set_by=report, run_id=run.run_id if run else None)
    return strongest


def _in_force(report: PainReport, action: str, clears: list[int], as_of_ms: int) -> bool:
    """A decision holds for its 7 days, and after them until a clear report has come after it."""
    if action == "progress":
        return False
    within_memory = as_of_ms - report.ts < GATE_MEMORY_DAYS * DAY_MS
    return within_memory or not any(ts > report.ts for ts in clears)


def report_decisions(reports: Sequence[PainReport], runs: Sequence[RunSummary]) -> list[Decision]:
    """One alert decision per report that is not clear: `pain_gate`, or `red_flag` for red flags."""
    decisions = []
    for report in reports:
        run = run_of(report, runs)
        timing = timing_of(report, run)
        action = decision_of(report, timing)
        if action == "progress":
            continue
        decisions.append(Decision(
            rule="red_flag" if action == "see_clinician" else "pain_gate",
            severity=SEVERITY[action], action=action, ts_ms=report.ts,
            message=_message(report, timing, action),
            details={"score": report.score, "timing": timing, "flags": ",".join(report.flags) or None,
                     "worsening": report.worsening, "run_id": run.run_id if run else None},
        ))
    return decisions


def see_physio(reports: Sequence[PainReport], as_of_ms: int) -> list[Decision]:
    """Pain on 3 or more days spread over 14 days or more (within the last 28): time for a physio."""
    days = sorted({r.ts // DAY_MS for r in reports
                   if r.score >= 1 and as_of_ms - PHYSIO_WINDOW_DAYS * DAY_MS < r.ts <= as_of_ms})
    if len(days) < PHYSIO_MIN_DAYS or days[-1] - days[0] < PHYSIO_SPAN_DAYS:
        return []
    return [Decision(
        rule="see_physio", severity="warning", action="see_physio", ts_ms=as_of_ms,
        message=(f"You have reported knee pain on {len(days)} days over the last {days[-1] - days[0] + 1} days. "
                 "Pain that has not settled in two weeks needs a look: book a physiotherapist."),
        details={"pain_days": len(days), "span_days": days[-1] - days[0] + 1},
    )]


_ADVICE = {
    "continue_no_increase": "You can keep running, but don't add distance until it settles.",
    "maintain": "Keep this week's distance as it is; don't add more.",
    "reduce_volume": "Cut this week's distance by a third and get it assessed if it persists.",
    "stop_run": "Stop running now and walk home; rest until it is pain-free.",
    "see_clinician": "Stop running and see a clinician before you run again.",
}
_TIMING = {"during": "during a run", "after": "after a run", "next_day": "the day after a run"}


def _message(report: PainReport, timing: str, action: str) -> str:
    flags = f" with {', '.join(f.replace('_', ' ') for f in report.flags)}" if report.flags else ""
    worse = " that got worse as you ran" if report.worsening else ""
    return f"Knee pain {report.score}/10 {_TIMING[timing]}{flags}{worse}. {_ADVICE[action]}"
