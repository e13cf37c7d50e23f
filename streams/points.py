"""Stream results as InfluxDB points (`footpod.schema`): pure, no I/O."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from footpod import schema
from footpod.contract import CountedSample
from footpod.records import RunEvaluation
from streams.segments import Segment

CADENCE_BUCKET_MS = 10_000  # CONTRACT.md: cadence per sample, or per 10 s of a run


def cadence_points(runner: str, team: str, fresh: Sequence[CountedSample]) -> list[str]:
    """One point per device and 10 s of newly counted samples: mean cadence and speed, last distance."""
    buckets: dict[tuple[str, int], list[CountedSample]] = {}
    for sample in fresh:
        buckets.setdefault((sample.device_id, sample.ts // CADENCE_BUCKET_MS), []).append(sample)
    lines = []
    for (device, _), samples in buckets.items():
        speeds = [s.speed_mps for s in samples if s.speed_mps is not None]
        lines.append(schema.CADENCE.line(
            {"runner": runner, "team": team, "device": device},
            {"spm": sum(s.cadence_spm for s in samples) / len(samples), "distance_m": samples[-1].distance_m,
             "speed_mps": sum(speeds) / len(speeds) if speeds else None},
            samples[0].ts))
    return lines


def run_point(runner: str, team: str, evaluation: RunEvaluation, segments: Iterable[Segment],
              retired_km: float = 0.0) -> str:
    """The run at its start time; `segments` and `retired_km` let a restarted stream rebuild its state."""
    run = evaluation.run
    return schema.RUN.line(
        {"runner": runner, "team": team, "device": run.device_id},
        {"run_id": run.run_id, "km": round(run.km, 4), "duration_s": run.duration_s, "samples": run.samples,
         "end_ms": run.end_ms, "retired_km": retired_km,
         "segments": json.dumps([segment.model_dump() for segment in segments], separators=(",", ":")),
         "cadence_spm": _round(run.cadence_spm, 2), "device_km": _round(evaluation.device_km, 3),
         "cadence_dev_pct": _round(evaluation.cadence_dev_pct, 2)},
        run.start_ms)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
