"""From a runner update to alerts and a status: the rules applied, with stable alert ids."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from footpod.contract import Alert, LastRun, Status, iso
from footpod.records import RunEvaluation, RunnerUpdate
from alerts.rules.cadence import cadence_low
from alerts.rules.decision import Decision
from alerts.rules.progression import acwr, budget_km, budget_reached, progression


def decisions_for(evaluation: RunEvaluation, gate: str) -> list[Decision]:
    """Every rule on one run: live runs only for the budget, finished runs for the rest."""
    if evaluation.live:
        return budget_reached(evaluation, gate)
    return [*progression(evaluation), *acwr(evaluation), *cadence_low(evaluation)]


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


def alerts_for(update: RunnerUpdate, gate: str) -> list[Alert]:
    """The alerts an update raises, one per id, in event-time order."""
    decisions = [d for evaluation in (*update.touched, update.latest) for d in decisions_for(evaluation, gate)]
    alerts: dict[str, Alert] = {}
    for decision in sorted(decisions, key=lambda d: (d.ts_ms, d.rule, d.action)):
        alert = to_alert(decision, update.runner, update.team)
        alerts.setdefault(alert.id, alert)  # the first event that triggered it
    return list(alerts.values())


def status_of(update: RunnerUpdate, gate: str) -> Status:
    latest = update.latest
    load, run = latest.load, latest.run
    return Status(
        runner=update.runner, team=update.team, as_of=iso(load.as_of_ms), live=latest.live,
        week_km=round(load.week_km, 2), prev_week_km=round(load.prev_week_km, 2),
        change_pct=_round(load.change_pct, 1), acwr=_round(load.acwr, 2), acwr_ewma=_round(load.acwr_ewma, 2),
        budget_km=_round(budget_km(load, gate), 2), gate=gate,
        cadence_baseline_spm=_round(latest.cadence_baseline_spm, 1),
        last_run=LastRun(run_id=run.run_id, end=iso(run.end_ms), km=round(run.km, 2),
                         cadence_spm=_round(run.cadence_spm, 1)),
    )


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
