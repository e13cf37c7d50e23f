"""RULES.md §4: cadence."""

from __future__ import annotations

import math

from footpod.records import RunEvaluation
from alerts.rules.decision import Decision
from alerts.rules.thresholds import CADENCE_LOW_SPM


def cadence_low(evaluation: RunEvaluation) -> list[Decision]:
    """A finished run's cadence below 170 spm: suggest raising it by 5–10 % (000)."""
    cadence = evaluation.run.cadence_spm
    if evaluation.live or cadence is None or cadence >= CADENCE_LOW_SPM:
        return []
    base = evaluation.cadence_baseline_spm or cadence
    return [Decision(
        rule="cadence_low", severity="info", action="raise_cadence", ts_ms=evaluation.run.end_ms,
        message=(f"Your cadence on this run was {math.floor(cadence)} steps per minute, below 170. "
                 f"Try shorter, quicker steps: aim for {base * 1.05:.0f}-{base * 1.10:.0f} spm."),
        details={"cadence_spm": round(cadence, 1), "run_id": evaluation.run.run_id,
                 "target_low_spm": round(base * 1.05), "target_high_spm": round(base * 1.10)},
    )]
