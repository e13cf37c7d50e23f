"""Every rule of RULES.md applied to what is known of a runner: alerts with stable ids, and a status.

Pure: a runner's facts (runs, pain reports, roster entry) and the stream's latest update in,
alerts and status out. The pain gate's whole history, and the alerts it raises, are computed from
the set of runs and reports, so the same facts in any arrival order give the same result.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

from pydantic import BaseModel, ConfigDict

from alerts.rules import cadence, equipment, pain_gate, patterns, progression, return_to_run
from alerts.rules.decision import Decision
from footpod.contract import Alert, LastRun, PainReport, Status, iso
from footpod.load import DAY_MS, WEEK_MS, cadence_baseline, km_between, load_at
from footpod.records import LoadSnapshot, RunEvaluation, RunnerUpdate, RunSummary
from footpod.roster import RunnerEntry
from footpod.settings import Settings
from footpod.thresholds import ACWR_MIN_CHRONIC_WEEK_KM, PAIN_SETTLE_MAX_S, PAIN_SETTLE_S


class RuleParams(BaseModel):
    """The rules' "ours" numbers that settings may change; defaults from `footpod/thresholds.py`."""

    model_config = ConfigDict(frozen=True)

    acwr_min_chronic_week_km: float = ACWR_MIN_CHRONIC_WEEK_KM  # RULES.md §2 acwr rules
    pain_settle_s: float = PAIN_SETTLE_S  # RULES.md §3 arrival order
    pain_settle_max_s: float = PAIN_SETTLE_MAX_S  # RULES.md §3 arrival order


def rule_params(settings: Settings) -> RuleParams:
    """The one place settings become rule parameters."""
    return RuleParams(
        acwr_min_chronic_week_km=settings.acwr_min_chronic_km,
        pain_settle_s=settings.pain_settle_s,
        pain_settle_max_s=settings.pain_settle_max_s,
    )


class RunnerFacts(BaseModel):
    """What the alert worker knows of a runner."""

    model_config = ConfigDict(frozen=True)

    runner: str
    team: str
    entry: RunnerEntry = RunnerEntry()
    runs: tuple[RunSummary, ...] = ()
    reports: tuple[PainReport, ...] = ()
    params: RuleParams = RuleParams()

    def gate(self, as_of_ms: int) -> pain_gate.Gate:
        return pain_gate.gate_at(self.reports, self.runs, as_of_ms)

    def reference_km(self, gate: pain_gate.Gate) -> float | None:
        """Under `reduce_volume`, the 7 days before the gate was set (RULES.md §2: one cut, not 0.7ⁿ)."""
        if gate.action != "reduce_volume" or gate.since_ms is None:
            return None
        return km_between(self.runs, gate.since_ms - WEEK_MS, gate.since_ms)

    def latest_ms(self) -> int | None:
        """The latest event time known (a run's end or a report): the facts' own "now"."""
        times = [run.end_ms for run in self.runs] + [report.ts for report in self.reports]
        return max(times) if times else None

    def rtr_start_ms(self) -> int | None:
        plan = self.entry.return_to_run
        return None if plan is None else _midnight_ms(plan.start)

    def frozen_baseline(self, start_ms: int) -> float | None:
        """The cadence baseline frozen at a start date (RULES.md §1): the roster's, else the baseline then."""
        if self.entry.baseline_cadence_spm is not None:
            return self.entry.baseline_cadence_spm
        return cadence_baseline(self.runs, start_ms)


def run_decisions(evaluation: RunEvaluation, facts: RunnerFacts) -> list[Decision]:
    """The run rules: only the budget while a run is under way, everything else once it is over."""
    gate = facts.gate(evaluation.load.as_of_ms)
    if evaluation.live:
        return progression.budget_reached(evaluation, gate.action, facts.reference_km(gate))
    if not evaluation.final:  # RULES.md §1 "a whole run": one verdict, once the whole run is in
        return []
    retraining, frozen = _retraining(facts, evaluation.load.as_of_ms)
    decisions = [
        *progression.progression(evaluation),
        *progression.acwr(evaluation, facts.params.acwr_min_chronic_week_km),
        *cadence.cadence_low(evaluation),
        *cadence.cadence_drop(evaluation),
        *cadence.cadence_target(evaluation, retraining, frozen),
        *equipment.shoe_wear(evaluation, facts.entry.shoes.get(evaluation.run.device_id, 0.0)),
    ]
    start = facts.rtr_start_ms()
    if start is not None:
        plan = facts.entry.return_to_run
        decisions += return_to_run.return_to_run(
            evaluation, facts.runs, facts.reports, start, plan.normal_week_km, gate.action
        )
    return decisions


def pain_decisions(facts: RunnerFacts, as_of_ms: int) -> list[Decision]:
    """The pain rules over every report known: each change of the gate up to `as_of_ms` that makes
    it more severe or lifts it, pain that lasts under a gate, the pain mile."""
    return [
        *pain_gate.gate_decisions(facts.reports, facts.runs, as_of_ms),
        *pain_gate.see_physio(facts.reports, facts.runs),
        *patterns.pain_mile(facts.reports, facts.runs),
    ]


def _retraining(facts: RunnerFacts, as_of_ms: int) -> tuple[bool, float | None]:
    """Whether cadence retraining applies (phase 3 of return to run, else the roster), and the
    baseline frozen at its start date (None: a roster without a start date, the rolling one)."""
    start = facts.rtr_start_ms()
    if start is not None and return_to_run.in_cadence_phase(start, as_of_ms):
        return True, facts.frozen_baseline(start)
    if facts.entry.cadence_retraining:
        since = facts.entry.cadence_retraining_since
        return True, None if since is None else facts.frozen_baseline(_midnight_ms(since))
    return False, None


def window_of(ts_ms: int) -> str:
    """The 7-day window an alert belongs to: the ISO week of its event time."""
    year, week, _ = datetime.fromtimestamp(ts_ms / 1000, tz=UTC).isocalendar()
    return f"{year}-W{week:02d}"


def alert_id(runner: str, rule: str, window: str, action: str) -> str:
    """Stable for the same (runner, rule, window, action) (RULES.md §7)."""
    return hashlib.sha256(f"{runner}|{rule}|{window}|{action}".encode()).hexdigest()[:20]


def to_alert(decision: Decision, runner: str, team: str) -> Alert:
    return Alert(
        id=alert_id(runner, decision.rule, window_of(decision.ts_ms), decision.action),
        runner=runner,
        team=team,
        ts=iso(decision.ts_ms),
        rule=decision.rule,
        severity=decision.severity,
        action=decision.action,
        message=decision.message,
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


def alerts_for(update: RunnerUpdate, facts: RunnerFacts | None = None, now_ms: int | None = None) -> list[Alert]:
    """The alerts an update raises, with the pain rules re-read against its runs, up to the latest
    event known (or `now_ms`, when later: a gate lifts by time on a rest day too)."""
    facts = facts or RunnerFacts(runner=update.runner, team=update.team, runs=update.recent)
    decisions = [d for evaluation in (*update.touched, update.latest) for d in run_decisions(evaluation, facts)]
    if facts.reports:
        as_of = max(update.latest.load.as_of_ms, facts.latest_ms() or 0, now_ms or 0)
        decisions += pain_decisions(facts, as_of)
    return to_alerts(decisions, update.runner, update.team)


def status_of(update: RunnerUpdate, facts: RunnerFacts | None = None, now_ms: int | None = None) -> Status:
    """The runner's status as of the latest event known (or `now_ms`, when later), with the gate in
    force then. The latest run is the latest by event time, whatever order the runs arrived in; the
    load is the stream's at that run's end, or recomputed from the runs at a later instant."""
    facts = facts or RunnerFacts(runner=update.runner, team=update.team, runs=update.recent)
    latest = update.latest
    load, run, baseline = latest.load, latest.run, latest.cadence_baseline_spm
    newest = max((*facts.runs, run), key=lambda r: (r.end_ms, r.run_id))
    as_of = max(load.as_of_ms, facts.latest_ms() or 0, now_ms or 0)
    if not latest.live and newest.run_id != run.run_id:  # a later run arrived before this update's
        run = newest
        baseline = facts.entry.baseline_cadence_spm or cadence_baseline(facts.runs, newest.start_ms)
        load = load_now(update, facts, newest.end_ms)
    if not latest.live and now_ms is not None and now_ms > load.as_of_ms:
        load = load_now(update, facts, now_ms)  # the budget as of now: old runs leave the window
    return status_from(facts, load, run, baseline, as_of, live=latest.live)


def status_from(
    facts: RunnerFacts,
    load: LoadSnapshot,
    run: RunSummary | None,
    baseline: float | None,
    as_of_ms: int,
    live: bool = False,
) -> Status:
    """The status message of `load` at `as_of_ms`, with the gate in force then and its budget."""
    gate = facts.gate(as_of_ms)
    budget = progression.budget_km(load, gate.action, facts.reference_km(gate))
    return Status(
        runner=facts.runner,
        team=facts.team,
        as_of=iso(as_of_ms),
        live=live,
        week_km=round(load.week_km, 2),
        prev_week_km=round(load.prev_week_km, 2),
        change_pct=_round(load.change_pct, 1),
        acwr=_round(load.acwr, 2),
        acwr_ewma=_round(load.acwr_ewma, 2),
        budget_km=_round(budget, 2),
        gate=gate.action,
        gate_since=iso(gate.since_ms) if gate.since_ms is not None else None,
        cadence_baseline_spm=_round(baseline, 1),
        rtr_phase=_rtr_phase(facts, facts.rtr_start_ms(), as_of_ms),
        last_run=None
        if run is None
        else LastRun(
            run_id=run.run_id, end=iso(run.end_ms), km=round(run.km, 2), cadence_spm=_round(run.cadence_spm, 1)
        ),
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
    if current == 5 and return_to_run.completed(
        facts.runs, facts.reports, facts.entry.return_to_run.normal_week_km, as_of_ms
    ):
        return "complete"
    return None if current is None else str(current)


def _midnight_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
