"""A runner's state (segments per device) and one step of the stream over it: pure functions."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from footpod.contract import CountedSample
from footpod.records import RunEvaluation, RunSummary
from footpod.load import DAY_MS, cadence_baseline, cadence_dev_pct, load_at
from streams.runs import cut_runs
from streams.segments import LoadParams, Segment, build_segments, merge_segments, unseen

HISTORY_DAYS = 70  # long enough for the 56-day EWMA and a run synced a week late


class RunnerState(BaseModel):
    """What the stream remembers of a runner: segments of each device, and when it began."""

    model_config = ConfigDict(frozen=True)

    runner: str
    first_seen_ms: int | None = None
    devices: dict[str, tuple[Segment, ...]] = {}
    retired_km: dict[str, float] = {}  # distance of segments forgotten by `prune`, per device

    def device_km(self, device: str, until_ms: int, params: LoadParams) -> float:
        """A device's lifetime distance up to `until_ms` (for shoe wear)."""
        runs = cut_runs(device, self.devices.get(device, ()), params)
        return self.retired_km.get(device, 0.0) + sum(run.km for run in runs if run.end_ms <= until_ms)

    def runs(self, params: LoadParams) -> list[RunSummary]:
        """Every known run of every device, ordered by end."""
        runs = [run for device, segments in self.devices.items() for run in cut_runs(device, segments, params)]
        return sorted(runs, key=lambda run: (run.end_ms, run.device_id))


class Step(BaseModel):
    """The outcome of absorbing one batch of samples."""

    model_config = ConfigDict(frozen=True)

    state: RunnerState
    fresh: tuple[CountedSample, ...]  # samples counted for the first time
    touched: tuple[RunSummary, ...]  # runs those samples belong to


def absorb(state: RunnerState, samples: Iterable[CountedSample], params: LoadParams) -> Step:
    """Count each sample once (identity: device, ts) and return the runs it changed."""
    by_device: dict[str, list[CountedSample]] = defaultdict(list)
    for sample in samples:
        by_device[sample.device_id].append(sample)
    devices = dict(state.devices)
    fresh: list[CountedSample] = []
    touched: list[RunSummary] = []
    for device, device_samples in by_device.items():
        old = devices.get(device, ())
        groups = unseen(device_samples, old)
        if not groups:
            continue
        new_segments = [segment for group in groups for segment in build_segments(group, params)]
        devices[device] = merge_segments(old, new_segments, params)
        new_ts = [segment.start_ms for segment in new_segments]
        fresh.extend(sample for group in groups for sample in group)
        touched.extend(_runs_containing(device, devices[device], new_ts, params))
    if not fresh:
        return Step(state=state, fresh=(), touched=())
    first_seen = min(sample.ts for sample in fresh)
    if state.first_seen_ms is not None:
        first_seen = min(first_seen, state.first_seen_ms)
    new_state = RunnerState(runner=state.runner, first_seen_ms=first_seen, devices=devices,
                            retired_km=state.retired_km)
    return Step(state=new_state, fresh=tuple(fresh), touched=tuple(sorted(touched, key=lambda r: r.end_ms)))


def _runs_containing(device: str, segments: tuple[Segment, ...], ts_list: list[int], params: LoadParams) -> list[RunSummary]:
    runs = cut_runs(device, segments, params)
    starts = [run.start_ms for run in runs]
    touched = {bisect.bisect_right(starts, ts) - 1 for ts in ts_list}
    return [runs[index] for index in sorted(touched) if index >= 0]


def prune(state: RunnerState, before_ms: int, params: LoadParams) -> RunnerState:
    """Forget runs that ended before `before_ms` (older than any window needs); keep their distance."""
    devices: dict[str, tuple[Segment, ...]] = {}
    retired = dict(state.retired_km)
    for device, segments in state.devices.items():
        old = tuple(segment for segment in segments if segment.end_ms < before_ms)
        if old:
            retired[device] = retired.get(device, 0.0) + sum(run.km for run in cut_runs(device, old, params))
        kept = tuple(segment for segment in segments if segment.end_ms >= before_ms)
        if kept:
            devices[device] = kept
    return RunnerState(runner=state.runner, first_seen_ms=state.first_seen_ms, devices=devices, retired_km=retired)


def evaluate(run: RunSummary, runs: list[RunSummary], first_seen_ms: int, now_ms: int,
             params: LoadParams, baseline_override: float | None = None,
             device_km: float | None = None) -> RunEvaluation:
    """The load at the run's end and its cadence against the baseline; live while the gap is open."""
    baseline = baseline_override if baseline_override is not None else cadence_baseline(runs, run.start_ms)
    return RunEvaluation(
        run=run,
        load=load_at(runs, run.end_ms, first_seen_ms),
        cadence_baseline_spm=baseline,
        cadence_dev_pct=cadence_dev_pct(run.cadence_spm, baseline),
        live=now_ms - run.end_ms < params.run_gap_ms,
        device_km=device_km,
    )


def history_floor(latest_ms: int) -> int:
    return latest_ms - HISTORY_DAYS * DAY_MS
