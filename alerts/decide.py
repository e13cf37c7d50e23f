"""Every rule of RULES.md applied to what is known of a runner: alerts with stable ids, and a status.

Pure: a runner's facts (runs, pain reports, roster entry) and the stream's latest update in,
alerts and status out. The same facts in any arrival order give the same result.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timezone

from pydantic import BaseModel, ConfigDict

from footpod.contract import Alert, LastRun, PainReport, Status, iso
from footpod.records import LoadSnapshot, RunEvaluation, RunnerUpdate, RunSummary
from footpod.roster import RunnerEntry
from alerts.rules import cadence, equipment, pain_gate, patterns, progression, return_to_run
from alerts.rules.decision import Decision
from streams.load import DAY_MS, load_at


class RunnerFacts(BaseModel):
    """What the alert worker knows of a runner."""

    model_config = ConfigDict(frozen=True)

    runner: str
    team: str
    entry: RunnerEntry = RunnerEntry()
    runs: tuple[RunSummary, ...] = ()
    reports: tuple[PainReport, ...] = ()

    def gate(self, as_of_ms: int) -> pain_gate.Gate:
        return pain_gate.gate_at(self.reports, self.runs, as_of_ms)

    def rtr_start_ms(self) -> int | None:
        plan = self.entry.return_to_run
        return None if plan is None else _midnight_ms(plan.start)


def run_decisions(evaluation: RunEvaluation, facts: RunnerFacts) -> list[Decision]:
    """The run rules: only the budget while a run is under way, everything else once it is over."""
    gate = facts.gate(evaluation.load.as_of_ms).action
    if evaluation.live:
        return progression.budget_reached(evaluation, gate)
    if not evaluation.final:  # RULES.md §1 "a whole run": one verdict, once the whole run is in
        return []
    decisions = [
        *progression.progression(evaluation),
        *progression.acwr(evaluation),
        *cadence.cadence_low(evaluation),
        *cadence.cadence_drop(evaluation),
        *cadence.cadence_target(evaluation, _retraining(facts, evaluation.load.as_of_ms)),
        *equipment.shoe_wear(evaluation, facts.entry.shoes.get(evaluation.run.device_id, 0.0)),
    ]
    start = facts.rtr_start_ms()
    if start is not None:
        plan = facts.entry.return_to_run
        decisions += return_to_run.return_to_run(evaluation, facts.runs, facts.reports, start,
                                                 plan.normal_week_km, gate)
    return decisions


def pain_decisions(facts: RunnerFacts, as_of_ms: int) -> list[Decision]:
    """The pain rules over every report known: the gate's decisions, pain that lasts, the pain mile."""
    return [
        *pain_gate.report_decisions(facts.reports, facts.runs),
        *pain_gate.see_physio(facts.reports, as_of_ms),
        *patterns.pain_mile(facts.reports, facts.runs),
    ]


def _retraining(facts: RunnerFacts, as_of_ms: int) -> bool:
    """Cadence retraining by the roster, or by phase 3 of the return-to-run protocol."""
    start = facts.rtr_start_ms()
    return facts.entry.cadence_retraining or (start is not None and return_to_run.phase(start, as_of_ms) == 3)


def window_of(ts_ms: int) -> str:
    """The 7-day window an alert belongs to: the ISO week of its event time."""
    year, week, _ = datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc).isocalendar()
    return f"{year}-W{week:02d}"


def alert_id(runner: str, rule: str, window: str, action: str) -> str:
    """Stable for the same (runner, rule, window, action) (RULES.md §7)."""
    return hashlib.sha256(f"{runner}|{rule}|{window}|{action}".encode()).hexdigest()[:20]


def to_alert(decision: Decision, runner: str, team: str) -> Alert:
    return Alert(
        id=alert_id(runner, decision.rule, window_of(decision.ts_ms), decision.action),
        runner=runner, team=team, ts=iso(decision.ts_ms), rule=decision.rule,
        severity=decision.severity, action=decision.action, message=decision.message,
        details=decision.details,
    )


def to_alerts(decisions: list[Decision], runner: str, team: str) -> list[Alert]:
    """One alert per id, from the first event that triggered it, in event-time order."""
    alerts: dict[str, Alert] = {}
    # ties of the same event time go by content, so the kept message does not depend on arrival order
    for decision in sorted(decisions, key=lambda d: (d.ts_ms, d.rule, d.action, d.model_dump_json())):
        alert = to_alert(decision, runner, team)
        alerts.setdefault(alert.id, alert)
    return list(alerts.values())


def alerts_for(update: RunnerUpdate, facts: RunnerFacts | None = None) -> list[Alert]:
    """The alerts an update raises, with the pain rules re-read against its runs."""
    facts = facts or RunnerFacts(runner=update.runner, team=update.team, runs=update.recent)
    decisions = [d for evaluation in (*update.touched, update.latest) for d in run_decisions(evaluation, facts)]
    if facts.reports:
        decisions += pain_decisions(facts, update.latest.load.as_of_ms)
    return to_alerts(decisions, update.runner, update.team)


def status_of(update: RunnerUpdate, facts: RunnerFacts | None = None) -> Status:
    """The runner's status after the latest run (or run so far), with the gate in force then."""
    facts = facts or RunnerFacts(runner=update.runner, team=update.team, runs=update.recent)
    latest = update.latest
    load, run = latest.load, latest.run
    as_of = max([load.as_of_ms, *(r.ts for r in facts.reports)])
    gate = facts.gate(as_of)
    start = facts.rtr_start_ms()
    return Status(
        runner=update.runner, team=update.team, as_of=iso(as_of), live=latest.live,
        week_km=round(load.week_km, 2), prev_week_km=round(load.prev_week_km, 2),
        change_pct=_round(load.change_pct, 1), acwr=_round(load.acwr, 2), acwr_ewma=_round(load.acwr_ewma, 2),
        budget_km=_round(progression.budget_km(load, gate.action), 2), gate=gate.action,
        gate_since=iso(gate.set_by.ts) if gate.set_by else None,
        cadence_baseline_spm=_round(latest.cadence_baseline_spm, 1),
        rtr_phase=_rtr_phase(facts, start, as_of),
        last_run=LastRun(run_id=run.run_id, end=iso(run.end_ms), km=round(run.km, 2),
                         cadence_spm=_round(run.cadence_spm, 1)),
    )


def load_now(update: RunnerUpdate, facts: RunnerFacts, as_of_ms: int) -> LoadSnapshot:
    """The load at `as_of_ms` (a midnight with no run) from the runs known; for the daily `load` point."""
    latest = update.latest.load
    first_seen = latest.as_of_ms - int(latest.history_days * DAY_MS)
    return load_at(facts.runs, as_of_ms, first_seen)


def _rtr_phase(facts: RunnerFacts, start: int | None, as_of_ms: int) -> str | None:
    if start is None:
        return None
    current = return_to_run.phase(start, as_of_ms)
    if current == 5 and return_to_run.completed(facts.runs, facts.reports,
                                                facts.entry.return_to_run.normal_week_km, as_of_ms):
        return "complete"
    return None if current is None else str(current)


def _midnight_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
