"""Stream results as InfluxDB points (`footpod.schema`): pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from footpod import schema
from footpod.contract import CountedSample
from footpod.records import RunEvaluation, RunSummary
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
        lines.append(
            schema.CADENCE.line(
                {"runner": runner, "team": team, "device": device},
                {
                    "spm": sum(s.cadence_spm for s in samples) / len(samples),
                    "distance_m": samples[-1].distance_m,
                    "speed_mps": sum(speeds) / len(speeds) if speeds else None,
                },
                samples[0].ts,
            )
        )
    return lines


def run_point(
    runner: str, team: str, evaluation: RunEvaluation, segments: Iterable[Segment], duplicate_of: str | None = None
) -> str:
    """The run at its start time. `segments` let a restarted stream rebuild its state; `final`
    says whether the run has been judged whole. A run that another source's overlapping run
    replaces (RULES.md §7) is stored with `km` 0 and `duplicate_of`, so sums count the run once."""
    run = evaluation.run
    return schema.RUN.line(
        {"runner": runner, "team": team, "device": run.device_id},
        {
            "run_id": run.run_id,
            "km": 0.0 if duplicate_of else round(run.km, 4),
            "source_km": round(run.km, 4),
            "duration_s": run.duration_s,
            "samples": run.samples,
            "end_ms": run.end_ms,
            "final": evaluation.final,
            "duplicate_of": duplicate_of or "",
            "segments": "[" + ",".join(segment.json() for segment in segments) + "]",
            "cadence_spm": _round(run.cadence_spm, 2),
            "device_km": _round(evaluation.device_km, 3),
            "cadence_dev_pct": _round(evaluation.cadence_dev_pct, 2),
        },
        run.start_ms,
    )


def superseded_run_point(runner: str, team: str, run: RunSummary, into_run_id: str) -> str:
    """Overwrites the point of a run whose start moved earlier (late samples came before it):
    no distance, no segments, `superseded_by` the run it is now part of (a ghost run otherwise)."""
    return schema.RUN.line(
        {"runner": runner, "team": team, "device": run.device_id},
        {
            "run_id": run.run_id,
            "km": 0.0,
            "source_km": 0.0,
            "duration_s": 0.0,
            "samples": 0,
            "end_ms": run.end_ms,
            "final": True,
            "duplicate_of": into_run_id,
            "superseded_by": into_run_id,
            "segments": "[]",
        },
        run.start_ms,
    )


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
