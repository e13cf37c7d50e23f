"""Stream results as InfluxDB points (CONTRACT.md, "Time series"): pure, no I/O."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from influxdb_client import Point, WritePrecision

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
        point = (Point("cadence").tag("runner", runner).tag("team", team).tag("device", device)
                 .field("spm", sum(s.cadence_spm for s in samples) / len(samples))
                 .field("distance_m", float(samples[-1].distance_m))
                 .time(samples[0].ts, WritePrecision.MS))
        speeds = [s.speed_mps for s in samples if s.speed_mps is not None]
        if speeds:
            point.field("speed_mps", sum(speeds) / len(speeds))
        lines.append(point.to_line_protocol())
    return lines


def run_point(runner: str, team: str, evaluation: RunEvaluation, segments: Iterable[Segment],
              duplicate_of: str | None = None) -> str:
    """The run at its start time. `segments` let a restarted stream rebuild its state; `final`
    says whether the run has been judged whole. A run that another source's overlapping run
    replaces (RULES.md §7) is stored with `km` 0 and `duplicate_of`, so sums count the run once."""
    run = evaluation.run
    point = (Point("run").tag("runner", runner).tag("team", team).tag("device", run.device_id)
             .field("run_id", run.run_id).field("km", 0.0 if duplicate_of else round(run.km, 4))
             .field("source_km", round(run.km, 4))
             .field("duration_s", run.duration_s).field("samples", run.samples)
             .field("end_ms", run.end_ms).field("final", evaluation.final)
             .field("duplicate_of", duplicate_of or "")
             .field("segments", json.dumps([segment.model_dump() for segment in segments],
                                           separators=(",", ":")))
             .time(run.start_ms, WritePrecision.MS))
    if run.cadence_spm is not None:
        point.field("cadence_spm", round(run.cadence_spm, 2))
    if evaluation.device_km is not None:
        point.field("device_km", round(evaluation.device_km, 3))
    if evaluation.cadence_dev_pct is not None:
        point.field("cadence_dev_pct", round(evaluation.cadence_dev_pct, 2))
    return point.to_line_protocol()


def superseded_run_point(runner: str, team: str, run: RunSummary, into_run_id: str) -> str:
    """Overwrites the point of a run whose start moved earlier (late samples came before it):
    no distance, no segments, `superseded_by` the run it is now part of (issue 9: a ghost run)."""
    return (Point("run").tag("runner", runner).tag("team", team).tag("device", run.device_id)
            .field("run_id", run.run_id).field("km", 0.0).field("source_km", 0.0).field("duration_s", 0.0)
            .field("samples", 0).field("final", True).field("duplicate_of", into_run_id)
            .field("superseded_by", into_run_id).field("segments", "[]")
            .time(run.start_ms, WritePrecision.MS)).to_line_protocol()
