"""RULES.md §6: shoe wear, by the footpod paired with the shoe (002: support fades after 300–500 miles)."""

from __future__ import annotations

from alerts.rules.decision import Decision
from footpod.records import RunEvaluation
from footpod.thresholds import SHOE_WEAR_KM

_ACTIONS = {"info": "plan_new_shoes", "warning": "replace_shoes"}


def shoe_wear(evaluation: RunEvaluation, start_km: float = 0.0) -> list[Decision]:
    """The run that takes a shoe's lifetime distance past 480 km (info) or 800 km (warning)."""
    if evaluation.device_km is None or evaluation.live:
        return []
    after = start_km + evaluation.device_km
    before = after - evaluation.run.km
    device = evaluation.run.device_id
    decisions = []
    for severity, limit in SHOE_WEAR_KM.items():
        if before < limit <= after:
            advice = "Plan a new pair soon." if severity == "info" else "Replace them now: their support is gone."
            decisions.append(
                Decision(
                    rule="shoe_wear",
                    severity=severity,
                    action=_ACTIONS[severity],
                    ts_ms=evaluation.run.end_ms,
                    message=(
                        f"The shoes with footpod {device} have now run {after:.0f} km (over {limit:.0f} km). {advice}"
                    ),
                    details={"device_id": device, "lifetime_km": round(after, 1), "limit_km": limit},
                )
            )
    return decisions
