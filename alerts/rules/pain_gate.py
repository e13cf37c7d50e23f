"""RULES.md §3: the pain gate (the 24-hour rule), red flags, and pain that does not settle.

Each report gets a decision from the table of §3; each decision holds for a time (a `Hold`); the
gate at an instant is the most severe decision holding then. The gate's whole history, and so
every alert it raises, is a function of the set of reports and runs given, whatever order they
arrived in.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from alerts.rules.decision import Decision
from footpod.contract import PainReport
from footpod.records import RunSummary
from footpod.thresholds import (
    CLEAR_AFTER_HOURS,
    DAY_MS,
    GATE_FACTORS,
    GATE_HOLD_DAYS,
    GATE_SEVERITY,
    GATES,
    MAX_WEEKLY_INCREASE,
    NEXT_DAY_CHECK_HOURS,
    PAIN_MAINTAIN,
    PAIN_REDUCE,
    PAIN_SETTLE_MAX_S,
    PAIN_SETTLE_S,
    PHYSIO_MIN_DAYS,
    PHYSIO_SPAN_DAYS,
    PHYSIO_WINDOW_DAYS,
    GateName,
)

HOUR_MS = 3_600_000
# lift only on a clear report (RULES.md §3: "time alone never lifts them")
NEEDS_CLEAR: frozenset[GateName] = frozenset({"reduce_volume", "stop_run", "see_clinician"})


def rank(gate: str) -> int:
    return GATES.index(gate)


class Hold(BaseModel):
    """One decision's time in force: from `start_ms` until `end_ms` (excluded; None: no end yet)."""

    model_config = ConfigDict(frozen=True)

    action: GateName
    start_ms: int
    end_ms: int | None
    set_by: PainReport  # the report that set it; for a step-down, the clear report that lifted it
    origin_ms: int  # when the pain report behind it was made (for a step-down, the severe one's)
    run_id: str | None = None

    def holds_at(self, ts_ms: int) -> bool:
        return self.start_ms <= ts_ms and (self.end_ms is None or ts_ms < self.end_ms)


class Gate(BaseModel):
    """The gate in force from `since_ms`, and the report that set it (None for `progress` at first)."""

    model_config = ConfigDict(frozen=True)

    action: GateName
    since_ms: int | None = None
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
    return "next_day" if age_ms >= NEXT_DAY_CHECK_HOURS * HOUR_MS else "after"


def is_clear(report: PainReport) -> bool:
    """No pain, no red flag, not worse: the report that lets a severe gate lift."""
    return report.score == 0 and not report.flags and not report.worsening


def decision_of(report: PainReport, timing: str) -> GateName:
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


def _canonical(reports: Sequence[PainReport]) -> list[PainReport]:
    """Reports in event-time order; ties by content, so arrival order never matters."""
    return sorted(set(reports), key=lambda r: (r.ts, r.model_dump_json()))


def holds(reports: Sequence[PainReport], runs: Sequence[RunSummary]) -> list[Hold]:
    """Every decision's time in force (RULES.md §3 "How a decision stops holding").

    `continue_no_increase` and `maintain` hold 7 days. `reduce_volume`, `stop_run` and
    `see_clinician` hold at least 7 days and then until the first clear report made 24 h or
    more after them; from then `continue_no_increase` holds 7 days (the step down).
    """
    ordered = _canonical(reports)
    clears = [r for r in ordered if is_clear(r)]
    result = []
    for report in ordered:
        run = run_of(report, runs)
        action = decision_of(report, timing_of(report, run))
        if action == "progress":
            continue
        run_id = run.run_id if run else None
        at_least = report.ts + GATE_HOLD_DAYS * DAY_MS
        if action not in NEEDS_CLEAR:
            result.append(
                Hold(
                    action=action,
                    start_ms=report.ts,
                    end_ms=at_least,
                    set_by=report,
                    origin_ms=report.ts,
                    run_id=run_id,
                )
            )
            continue
        clear = next((c for c in clears if c.ts - report.ts >= CLEAR_AFTER_HOURS * HOUR_MS), None)
        if clear is None:
            result.append(
                Hold(action=action, start_ms=report.ts, end_ms=None, set_by=report, origin_ms=report.ts, run_id=run_id)
            )
            continue
        lift = max(at_least, clear.ts)
        result.append(
            Hold(action=action, start_ms=report.ts, end_ms=lift, set_by=report, origin_ms=report.ts, run_id=run_id)
        )
        result.append(
            Hold(
                action="continue_no_increase",
                start_ms=lift,
                end_ms=lift + GATE_HOLD_DAYS * DAY_MS,
                set_by=clear,
                origin_ms=report.ts,
                run_id=run_id,
            )
        )
    return result


def history(reports: Sequence[PainReport], runs: Sequence[RunSummary]) -> list[Gate]:
    """Each change of the gate in force, in time order, starting from `progress`.

    The instants a change can happen are the starts and ends of holds; at each, the gate is the
    most severe hold then (ties: the latest set, then by content).
    """
    all_holds = holds(reports, runs)
    instants = sorted({h.start_ms for h in all_holds} | {h.end_ms for h in all_holds if h.end_ms is not None})
    changes: list[Gate] = []
    current: GateName = "progress"
    for instant in instants:
        active = [h for h in all_holds if h.holds_at(instant)]
        if not active:
            if current != "progress":
                changes.append(Gate(action="progress", since_ms=instant))
                current = "progress"
            continue
        top = max(active, key=lambda h: (rank(h.action), h.start_ms, h.set_by.model_dump_json()))
        if top.action != current:
            changes.append(Gate(action=top.action, since_ms=instant, set_by=top.set_by, run_id=top.run_id))
            current = top.action
    return changes


def gate_at(reports: Sequence[PainReport], runs: Sequence[RunSummary], as_of_ms: int) -> Gate:
    """The gate in force at `as_of_ms`: the latest change at or before it, else `progress`."""
    gate = Gate(action="progress")
    for change in history(reports, runs):
        if change.since_ms > as_of_ms:
            break
        gate = change
    return gate


def gate_decisions(reports: Sequence[PainReport], runs: Sequence[RunSummary], as_of_ms: int) -> list[Decision]:
    """An alert decision for each change of the gate up to `as_of_ms` that makes it more severe
    (`pain_gate`, or `red_flag` for `see_clinician`) or lifts it to `progress`. A step down from a
    severe gate to `continue_no_increase`, and a milder report under a severe gate, publish nothing."""
    decisions = []
    previous: GateName = "progress"
    for change in history(reports, runs):
        if change.since_ms > as_of_ms:
            break
        if change.action == "progress":
            decisions.append(_lift_decision(change, previous))
        elif rank(change.action) > rank(previous):
            decisions.append(_gate_decision(change, runs))
        previous = change.action
    return decisions


def pain_under_a_gate(reports: Sequence[PainReport], runs: Sequence[RunSummary]) -> list[PainReport]:
    """The reports of pain ≥ 1 made while earlier reports held a gate other than `progress`
    (the same as `gate_at` over the earlier reports alone, without recomputing it per report)."""
    ordered = _canonical(reports)
    all_holds = holds(ordered, runs)
    return [r for r in ordered if r.score >= 1 and any(h.origin_ms < r.ts and h.holds_at(r.ts) for h in all_holds)]


def see_physio(reports: Sequence[PainReport], runs: Sequence[RunSummary]) -> list[Decision]:
    """Pain ≥ 1 on 3 or more days spread over 14 days or more (within 28), each reported while a
    gate other than `progress` was in force (set by earlier reports): time for a physio."""
    counted = pain_under_a_gate(reports, runs)
    decisions, was_met = [], False
    for report in counted:
        days = sorted({r.ts // DAY_MS for r in counted if report.ts - PHYSIO_WINDOW_DAYS * DAY_MS < r.ts <= report.ts})
        met = len(days) >= PHYSIO_MIN_DAYS and days[-1] - days[0] >= PHYSIO_SPAN_DAYS
        if met and not was_met:
            decisions.append(
                Decision(
                    rule="see_physio",
                    severity="warning",
                    action="see_physio",
                    ts_ms=report.ts,
                    message=(
                        f"You have reported knee pain on {len(days)} days over {days[-1] - days[0] + 1} days "
                        f"while your knee gate held. Pain that has not settled in {PHYSIO_SPAN_DAYS // 7} weeks "
                        "needs a look: book a physiotherapist."
                    ),
                    details={"pain_days": len(days), "span_days": days[-1] - days[0] + 1},
                )
            )
        was_met = met
    return decisions


def settle_at(
    report_received_ms: int,
    last_arrival_ms: int | None,
    settle_s: float = PAIN_SETTLE_S,
    settle_max_s: float = PAIN_SETTLE_MAX_S,
) -> int:
    """When a report may be decided if nothing more arrives: once no data of its runner (a sample,
    or another report) has arrived for `settle_s`, counted from the report too, and at the latest
    `settle_max_s` after it. For several reports waiting together, `report_received_ms` is the
    earliest and `last_arrival_ms` the latest arrival of anything of the runner's."""
    quiet_from = max(report_received_ms, last_arrival_ms or report_received_ms)
    return min(quiet_from + round(settle_s * 1000), report_received_ms + round(settle_max_s * 1000))


def settled(
    report_received_ms: int,
    last_arrival_ms: int | None,
    now_ms: int,
    settle_s: float = PAIN_SETTLE_S,
    settle_max_s: float = PAIN_SETTLE_MAX_S,
) -> bool:
    """RULES.md §3: has the runner's data settled, so the report can be decided? (pure: `now_ms` is given)"""
    return now_ms >= settle_at(report_received_ms, last_arrival_ms, settle_s, settle_max_s)


def _percent(factor: float) -> str:
    return f"{factor * 100:.0f} %"


_ADVICE: dict[GateName, str] = {
    "continue_no_increase": (
        f"Your knee gate is now 'continue, no increase': you can keep running, but don't add "
        f"distance for {GATE_HOLD_DAYS} days."
    ),
    "maintain": (
        f"Your knee gate is now 'maintain': keep your weekly distance as it is, don't add more, "
        f"for {GATE_HOLD_DAYS} days."
    ),
    "reduce_volume": (
        f"Your knee gate is now 'reduce volume': run at most "
        f"{_percent(GATE_FACTORS['reduce_volume'])} of the week before (a cut of "
        f"{_percent(1 - GATE_FACTORS['reduce_volume'])}) and get it assessed. It holds at least "
        f"{GATE_HOLD_DAYS} days and until you report no pain {CLEAR_AFTER_HOURS} h or more after this."
    ),
    "stop_run": (
        "Your knee gate is now 'stop running': stop now and walk home, and seek a physiotherapy "
        "assessment before you run again."
    ),
    "see_clinician": "Your knee gate is now 'see a clinician': stop running and see a clinician before you run again.",
}
_TIMING = {"during": "during a run", "after": "after a run", "next_day": "the day after a run"}


def _gate_decision(change: Gate, runs: Sequence[RunSummary]) -> Decision:
    report = change.set_by
    run = run_of(report, runs)
    timing = timing_of(report, run)
    flags = f" with {', '.join(f.replace('_', ' ') for f in report.flags)}" if report.flags else ""
    worse = " that got worse as you ran" if report.worsening else ""
    return Decision(
        rule="red_flag" if change.action == "see_clinician" else "pain_gate",
        severity=GATE_SEVERITY[change.action],
        action=change.action,
        ts_ms=change.since_ms,
        message=f"Knee pain {report.score}/10 {_TIMING[timing]}{flags}{worse}. {_ADVICE[change.action]}",
        details={
            "gate": change.action,
            "score": report.score,
            "timing": timing,
            "flags": ",".join(report.flags) or None,
            "worsening": report.worsening,
            "run_id": run.run_id if run else None,
        },
    )


def _lift_decision(change: Gate, previous: GateName) -> Decision:
    return Decision(
        rule="pain_gate",
        severity="info",
        action="progress",
        ts_ms=change.since_ms,
        message=(
            f"Your knee gate has lifted to 'progress' (it was '{previous}'): you may add up to "
            f"{MAX_WEEKLY_INCREASE * 100:.0f} % again."
        ),
        details={"gate": "progress", "previous_gate": previous},
    )
