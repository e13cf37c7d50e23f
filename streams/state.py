"""A runner's state (segments per device) and the pure functions over it: counting samples once,
choosing one source per run, and judging runs whole.

History of any age (RULES.md §7): nothing is forgotten because of the wall clock. A run judged
whole is one segment (`streams.segments`), so a runner's state grows with runs (a year of daily
runs is a few hundred segments) and every window, shoe wear and a re-sync of an old run see it.
"""

from __future__ import annotations

import bisect
import functools
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from footpod.contract import CountedSample
from footpod.load import cadence_baseline, cadence_dev_pct, load_at
from footpod.records import RunEvaluation, RunSummary
from streams.runs import group_runs, same_run, summarise
from streams.segments import LoadParams, Segment, build_segments, join_all, merge_segments, unseen

RunKey = tuple[str, int]  # (device, start): one run of one device


def key_of(run: RunSummary) -> RunKey:
    return run.device_id, run.start_ms


@dataclass(frozen=True)
class Runs:
    """A runner's runs: every device's runs, and the ones that count (one per overlap, RULES.md §7)."""

    every: tuple[RunSummary, ...]  # ordered by end
    counted: tuple[RunSummary, ...]  # ordered by end
    winner_of: dict[RunKey, RunSummary]  # each run -> the run counted for its overlap group
    open_keys: frozenset[RunKey]  # runs not yet judged whole

    @functools.cached_property
    def _groups(self) -> dict[RunKey, list[RunSummary]]:
        groups: dict[RunKey, list[RunSummary]] = {}
        for run in self.every:
            groups.setdefault(key_of(self.winner_of[key_of(run)]), []).append(run)
        return groups

    def members(self, winner: RunSummary) -> list[RunSummary]:
        """The runs an overlap group holds: the counted one first."""
        key = key_of(winner)
        return [winner, *(run for run in self._groups.get(key, ()) if key_of(run) != key)]

    def is_open(self, winner: RunSummary) -> bool:
        return any(key_of(run) in self.open_keys for run in self.members(winner))


class RunnerState(BaseModel):
    """What the stream remembers of a runner: segments of each device, and when it began."""

    model_config = ConfigDict(frozen=True)

    runner: str
    first_seen_ms: int | None = None
    devices: dict[str, tuple[Segment, ...]] = {}

    def runs(self, params: LoadParams) -> list[RunSummary]:
        """The runs that count, one per overlap of sources, ordered by end."""
        return list(self.all_runs(params).counted)

    def all_runs(self, params: LoadParams) -> Runs:
        """Every device's runs, the ones that count, and which runs are still open."""
        every: list[RunSummary] = []
        open_keys = set()
        for device, segments in self.devices.items():
            for group in group_runs(segments, params):
                if len(group) == 1:
                    run = _summary(device, group[0], params)
                    if group[0].arrived_ms is not None:
                        open_keys.add((device, run.start_ms))
                else:
                    run = summarise(device, group, params)
                    if any(segment.open for segment in group):
                        open_keys.add((device, run.start_ms))
                every.append(run)
        every.sort(key=lambda run: (run.end_ms, run.device_id))
        winner_of = one_per_overlap(every)
        counted = tuple(run for run in every if winner_of[key_of(run)] is run)
        return Runs(every=tuple(every), counted=counted, winner_of=winner_of, open_keys=frozenset(open_keys))

    def runs_near(self, device: str, first_ms: int, last_ms: int, params: LoadParams) -> list[RunSummary]:
        """The device's runs that could hold a sample in [first_ms, last_ms]: those around it only."""
        segments = self.devices.get(device, ())
        starts = [segment.start_ms for segment in segments]
        lo = max(0, bisect.bisect_left(starts, first_ms - params.run_gap_ms) - 1)
        hi = bisect.bisect_right(starts, last_ms + params.run_gap_ms)
        while lo > 0 and same_run(segments[lo - 1], segments[lo], params):  # widen to whole runs
            lo -= 1
        while 0 < hi < len(segments) and same_run(segments[hi - 1], segments[hi], params):
            hi += 1
        return [summarise(device, group, params) for group in group_runs(segments[lo:hi], params)]

    def segments_of(self, run: RunSummary) -> list[Segment]:
        return [
            segment
            for segment in self.devices.get(run.device_id, ())
            if run.start_ms <= segment.start_ms and segment.end_ms <= run.end_ms
        ]


_SUMMARIES: OrderedDict[int, tuple[Segment, str, LoadParams, RunSummary]] = OrderedDict()
SUMMARIES_KEPT = 200_000  # one per run judged whole of the runners in memory; the oldest are redone


def _summary(device: str, segment: Segment, params: LoadParams) -> RunSummary:
    """A run judged whole (one closed segment): summarised once, not at every step. Keyed by the
    segment object (held, so its id is not reused); segments are immutable."""
    if segment.open:  # changes at every step until judged: not worth keeping
        return summarise(device, [segment], params)
    entry = _SUMMARIES.get(id(segment))
    if entry is not None and entry[0] is segment and entry[1] == device and entry[2] is params:
        return entry[3]
    summary = summarise(device, [segment], params)
    _SUMMARIES[id(segment)] = (segment, device, params, summary)
    if len(_SUMMARIES) > SUMMARIES_KEPT:
        _SUMMARIES.popitem(last=False)
    return summary


def one_per_overlap(runs: Sequence[RunSummary]) -> dict[RunKey, RunSummary]:
    """Each run mapped to the run counted for it: runs that overlap in event time (any device or
    source; a runner cannot run two runs at once, RULES.md §7) form one group, and the run that
    covers most of it counts (longest; then most samples, most distance; then by name, so the
    choice does not depend on arrival order)."""
    ordered = sorted(runs, key=lambda run: (run.start_ms, run.end_ms, run.device_id))
    groups: list[list[RunSummary]] = []
    reach = None
    for run in ordered:
        if groups and run.start_ms <= reach:
            groups[-1].append(run)
            reach = max(reach, run.end_ms)
        else:
            groups.append([run])
            reach = run.end_ms
    winner_of: dict[RunKey, RunSummary] = {}
    for group in groups:
        if len(group) == 1:
            winner_of[(group[0].device_id, group[0].start_ms)] = group[0]
            continue
        winner = max(group, key=lambda r: (r.end_ms - r.start_ms, r.samples, r.km, r.device_id, r.run_id))
        for run in group:
            winner_of[key_of(run)] = winner
    return winner_of


@dataclass(frozen=True)
class Counted:
    """The outcome of counting a batch of samples into a runner's state (samples are taken as they
    come, pydantic `CountedSample`s or the stream's decoded `SampleRecord`s, not validated again)."""

    state: RunnerState
    fresh: tuple[CountedSample, ...]  # samples counted for the first time
    touched: tuple[RunSummary, ...]  # the device runs those samples belong to


def count_samples(
    state: RunnerState, samples: Iterable[CountedSample], params: LoadParams, arrived_ms: int | None = None
) -> Counted:
    """Count each sample once (identity: device, ts) and return the device runs it changed.
    `arrived_ms` (the wall clock) marks the runs open until they are judged whole (`seal`)."""
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
        new_segments = [segment for group in groups for segment in build_segments(group, params, arrived_ms)]
        devices[device] = merge_segments(old, new_segments, params)
        new_ts = [segment.start_ms for segment in new_segments]
        fresh.extend(sample for group in groups for sample in group)
        touched.extend(_runs_containing(device, devices[device], new_ts, params))
    if not fresh:
        return Counted(state=state, fresh=(), touched=())
    first_seen = min(sample.ts for sample in fresh)
    if state.first_seen_ms is not None:
        first_seen = min(first_seen, state.first_seen_ms)
    new_state = RunnerState(runner=state.runner, first_seen_ms=first_seen, devices=devices)
    return Counted(state=new_state, fresh=tuple(fresh), touched=tuple(sorted(touched, key=lambda r: r.end_ms)))


def _runs_containing(
    device: str, segments: tuple[Segment, ...], ts_list: list[int], params: LoadParams
) -> list[RunSummary]:
    groups = group_runs(segments, params)
    starts = [group[0].start_ms for group in groups]
    touched = {bisect.bisect_right(starts, ts) - 1 for ts in ts_list}
    return [summarise(device, groups[index], params) for index in sorted(touched) if index >= 0]


def is_whole(run: RunSummary, arrived_ms: int, now_ms: int, params: LoadParams) -> bool:
    """RULES.md §1 "a whole run": no sample of it within the run gap of event time (now), and
    none of it arriving for `settle_ms`."""
    return now_ms - run.end_ms >= params.run_gap_ms and now_ms - arrived_ms >= params.settle_ms


def seal(state: RunnerState, now_ms: int, params: LoadParams) -> tuple[RunnerState, list[RunSummary]]:
    """Judge open runs that are whole at `now_ms`: each becomes one closed segment claiming the
    whole run (`streams.segments`). Returns the new state and the device runs sealed."""
    devices: dict[str, tuple[Segment, ...]] = {}
    sealed: list[RunSummary] = []
    for device, segments in state.devices.items():
        kept: list[Segment] = []
        for group in group_runs(segments, params):
            arrivals = [segment.arrived_ms for segment in group if segment.arrived_ms is not None]
            run = summarise(device, group, params)
            if arrivals and is_whole(run, max(arrivals), now_ms, params):
                kept.append(join_all(group, params).model_copy(update={"arrived_ms": None}))
                sealed.append(run)
            else:
                kept.extend(group)
        devices[device] = tuple(kept)
    if not sealed:
        return state, []
    return state.model_copy(update={"devices": devices}), sorted(sealed, key=lambda r: r.end_ms)


def evaluate(
    run: RunSummary,
    runs: Sequence[RunSummary],
    first_seen_ms: int,
    now_ms: int,
    params: LoadParams,
    baseline_override: float | None = None,
    device_km: float | None = None,
    final: bool = True,
) -> RunEvaluation:
    """The load at the run's end and its cadence against the baseline; live while the gap is open."""
    baseline = baseline_override if baseline_override is not None else cadence_baseline(runs, run.start_ms)
    return RunEvaluation(
        run=run,
        load=load_at(runs, run.end_ms, first_seen_ms),
        cadence_baseline_spm=baseline,
        cadence_dev_pct=cadence_dev_pct(run.cadence_spm, baseline),
        live=now_ms - run.end_ms < params.run_gap_ms,
        final=final,
        device_km=device_km,
    )


def device_km(runs: Sequence[RunSummary], device: str, until_ms: int) -> float:
    """A device's lifetime distance up to `until_ms` (shoe wear), from the runs that count."""
    return sum(run.km for run in runs if run.device_id == device and run.end_ms <= until_ms)
