"""RULES.md §2: weekly progression, ACWR and the weekly budget."""

from __future__ import annotations

from alerts.rules.decision import Decision, km
from footpod.records import LoadSnapshot, RunEvaluation
from footpod.thresholds import (
    ACWR_ELEVATED,
    ACWR_HIGH,
    ACWR_MIN_CHRONIC_WEEK_KM,
    ACWR_MIN_HISTORY_DAYS,
    GATE_FACTORS,
    MAX_WEEKLY_INCREASE,
    PROGRESSION_MIN_HISTORY_DAYS,
    GateName,
)


def allowed_week_km(load: LoadSnapshot, gate: GateName, reference_km: float | None = None) -> float | None:
    """What the gate lets the runner run in this 7-day window; absent without a previous week.

    The factor applies to `prev_week_km`, except under `reduce_volume`, where it applies once to
    `reference_km`, the 7 days before the gate was set (RULES.md §2: one cut, not 0.7ⁿ)."""
    if load.prev_week_km <= 0:
        return None
    base = reference_km if gate == "reduce_volume" and reference_km is not None else load.prev_week_km
    if base <= 0:
        return None
    return base * GATE_FACTORS[gate]


def budget_km(load: LoadSnapshot, gate: GateName, reference_km: float | None = None) -> float | None:
    allowed = allowed_week_km(load, gate, reference_km)
    return None if allowed is None else max(0.0, allowed - load.week_km)


def progression(evaluation: RunEvaluation) -> list[Decision]:
    """Warn when this week is more than 10 % above the week before (after two weeks of history)."""
    load = evaluation.load
    if load.prev_week_km <= 0 or load.history_days < PROGRESSION_MIN_HISTORY_DAYS:
        return []
    if load.week_km <= (1 + MAX_WEEKLY_INCREASE) * load.prev_week_km:
        return []
    change = (load.week_km - load.prev_week_km) / load.prev_week_km * 100
    percent = f"{change:.0f}" if change >= 11 else f"{change:.1f}"  # never "10 %" for a change above 10 %
    return [
        Decision(
            rule="progression",
            severity="warning",
            action="hold",
            ts_ms=load.as_of_ms,
            message=(
                f"{km(load.week_km)} in the last 7 days, {percent} % more than the "
                f"{km(load.prev_week_km)} the week before (limit +{MAX_WEEKLY_INCREASE * 100:.0f} %). "
                "Hold this volume for now."
            ),
            details={
                "week_km": round(load.week_km, 2),
                "prev_week_km": round(load.prev_week_km, 2),
                "change_pct": round(change, 1),
            },
        )
    ]


def acwr(evaluation: RunEvaluation, min_chronic_week_km: float = ACWR_MIN_CHRONIC_WEEK_KM) -> list[Decision]:
    """Acute:chronic ratio above 1.5 (reduce) or between 1.3 and 1.5 (hold), after 28 days and with
    at least `min_chronic_week_km` a week over the month (a near-empty month is a break, not overload)."""
    load = evaluation.load
    ratio = load.acwr
    if ratio is None or load.history_days < ACWR_MIN_HISTORY_DAYS or ratio <= ACWR_ELEVATED:
        return []
    if load.chronic_week_km < min_chronic_week_km:
        return []
    details = {
        "acwr": round(ratio, 2),
        "week_km": round(load.week_km, 2),
        "chronic_week_km": round(load.chronic_week_km, 2),
    }
    numbers = (
        f"This week's {km(load.week_km)} is {ratio:.2f} times your 4-week average of {km(load.chronic_week_km)} a week"
    )
    if ratio > ACWR_HIGH:
        return [
            Decision(
                rule="acwr_high",
                severity="critical",
                action="reduce_volume",
                ts_ms=load.as_of_ms,
                message=(f"{numbers} (above {ACWR_HIGH}, the highest injury risk). Cut back your running this week."),
                details=details,
            )
        ]
    return [
        Decision(
            rule="acwr_elevated",
            severity="info",
            action="hold",
            ts_ms=load.as_of_ms,
            message=(f"{numbers} (above {ACWR_ELEVATED}). Keep this week at the current volume; don't add more."),
            details=details,
        )
    ]


def budget_reached(evaluation: RunEvaluation, gate: GateName, reference_km: float | None = None) -> list[Decision]:
    """During a run: this run has just taken the week past what the gate allows."""
    load = evaluation.load
    allowed = allowed_week_km(load, gate, reference_km)
    if not evaluation.live or allowed is None:
        return []
    before_run = load.week_km - evaluation.run.km
    if not (load.week_km > allowed >= before_run):
        return []
    return [
        Decision(
            rule="budget_reached",
            severity="info",
            action="end_run",
            ts_ms=load.as_of_ms,
            message=(
                f"You have run {km(load.week_km)} in the last 7 days, past this week's limit of "
                f"{km(allowed)}. Ease off and finish this run now."
            ),
            details={
                "week_km": round(load.week_km, 2),
                "allowed_week_km": round(allowed, 2),
                "run_km": round(evaluation.run.km, 2),
                "gate": gate,
            },
        )
    ]
