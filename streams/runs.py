"""Segments to runs (RULES.md §1 "run"): a device's segments grouped and summarised."""

from __future__ import annotations

from collections.abc import Sequence

from footpod.records import RunSummary, built
from streams.segments import LoadParams, Segment, distance_step


def group_runs(segments: Sequence[Segment], params: LoadParams) -> list[list[Segment]]:
    """A device's time-ordered segments grouped into the runs they make."""
    groups: list[list[Segment]] = []
    for segment in segments:
        if groups and same_run(groups[-1][-1], segment, params):
            groups[-1].append(segment)
        else:
            groups.append([segment])
    return groups


def same_run(a: Segment, b: Segment, params: LoadParams) -> bool:
    if a.run_id is not None and b.run_id is not None:
        return a.run_id == b.run_id
    return b.start_ms - a.end_ms <= params.run_gap_ms


def summarise(device_id: str, group: Sequence[Segment], params: LoadParams) -> RunSummary:
    readings = [segment.readings for segment in group]  # each segment's tally unpacked once
    meters = sum(reading[2] for reading in readings)
    for a, b, (_, a_last, *_), (b_first, *_) in zip(group, group[1:], readings, readings[1:]):
        meters += distance_step(a_last, b_first, b.start_ms - a.end_ms, params.glitch_mps)
    running = sum(reading[4] for reading in readings)
    spm_sum = sum(reading[5] for reading in readings)
    first = group[0]
    return built(
        RunSummary,
        {
            "run_id": first.run_id or f"{device_id}@{first.start_ms}",
            "device_id": device_id,
            "start_ms": first.start_ms,
            "end_ms": group[-1].end_ms,
            "km": meters / 1000,
            "samples": sum(reading[3] for reading in readings),
            "cadence_spm": spm_sum / running if running else None,
        },
    )
