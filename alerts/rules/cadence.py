"""RULES.md §4: cadence."""

from __future__ import annotations

import math

from alerts.rules.decision import Decision
from footpod.records import RunEvaluation
from footpod.thresholds import CADENCE_DROP_PCT, CADENCE_LOW_SPM, CADENCE_TARGET_PCT


def cadence_low(evaluation: RunEvaluation) -> list[Decision]:
    """A finished run's cadence below 170 spm: suggest raising it by 5–10 % (000)."""
    cadence = evaluation.run.cadence_spm
    if evaluation.live or cadence is None or cadence >= CADENCE_LOW_SPM:
        return []
    base = evaluation.cadence_baseline_spm or cadence
    low, high = (base * (1 + pct / 100) for pct in CADENCE_TARGET_PCT)
    return [
        Decision(
            rule="cadence_low",
            severity="info",
            action="raise_cadence",
            ts_ms=evaluation.run.end_ms,
            message=(
                f"Your cadence on this run was {math.floor(cadence)} steps per minute, below {CADENCE_LOW_SPM:.0f}. "
                f"Try shorter, quicker steps: aim for {low:.0f}-{high:.0f} spm."
            ),
            details={
                "cadence_spm": round(cadence, 1),
                "run_id": evaluation.run.run_id,
                "target_low_spm": round(low),
                "target_high_spm": round(high),
            },
        )
    ]


def cadence_drop(evaluation: RunEvaluation) -> list[Decision]:
    """A finished run 5 % or more below the runner's baseline: fatigue or guarding (ours)."""
    deviation = evaluation.cadence_dev_pct
    if evaluation.live or deviation is None or deviation > CADENCE_DROP_PCT:
        return []
    return [
        Decision(
            rule="cadence_drop",
            severity="warning",
            action="check_form",
            ts_ms=evaluation.run.end_ms,
            message=(
                f"Your cadence on this run was {evaluation.run.cadence_spm:.0f} spm, {abs(deviation):.0f} % below "
                f"your usual {evaluation.cadence_baseline_spm:.0f} spm. That can mean tired legs or a sore knee: "
                "check how you feel and ease off if something hurts."
            ),
            details={
                "cadence_spm": round(evaluation.run.cadence_spm, 1),
                "cadence_dev_pct": round(deviation, 1),
                "baseline_spm": round(evaluation.cadence_baseline_spm, 1),
                "run_id": evaluation.run.run_id,
            },
        )
    ]


def cadence_target(
    evaluation: RunEvaluation, retraining: bool, frozen_baseline_spm: float | None = None
) -> list[Decision]:
    """A runner raising cadence whose run landed +5…+10 % over baseline: on target (000 phase 3).

    The baseline is the one frozen when retraining started (RULES.md §1), when given; else the
    evaluation's (a roster without a start date)."""
    cadence = evaluation.run.cadence_spm
    baseline, deviation = evaluation.cadence_baseline_spm, evaluation.cadence_dev_pct
    if frozen_baseline_spm is not None and cadence is not None:
        baseline, deviation = frozen_baseline_spm, (cadence - frozen_baseline_spm) / frozen_baseline_spm * 100
    if not retraining or evaluation.live or deviation is None:
        return []
    low, high = CADENCE_TARGET_PCT
    if not low <= deviation <= high:
        return []
    return [
        Decision(
            rule="cadence_target",
            severity="info",
            action="on_target",
            ts_ms=evaluation.run.end_ms,
            message=(
                f"Cadence {cadence:.0f} spm, {deviation:.0f} % above your baseline of "
                f"{baseline:.0f} spm: right in the +{low:.0f}-{high:.0f} % target. Keep it there."
            ),
            details={
                "cadence_spm": round(cadence, 1),
                "cadence_dev_pct": round(deviation, 1),
                "baseline_spm": round(baseline, 1),
                "run_id": evaluation.run.run_id,
            },
        )
    ]
