"""A runner's state (segments per device) and the pure functions over it: counting samples once,
choosing one source per run, and judging runs whole.

History of any age (RULES.md §7): nothing is forgotten because of the wall clock. A run judged
whole is one segment (`streams.segments`), so a runner's state grows with runs (a year of daily
runs is a few hundred segments) and every window, shoe wear and a re-sync of an old run see it.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter, is_
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr

from footpod.contract import CountedSample
from footpod.load import LoadBefore, cadence_baseline, cadence_dev_pct, load_at, load_before
from footpod.records import LoadSnapshot, RunEvaluation, RunSummary, built
from streams.runs import group_runs, same_run, summarise
from streams.segments import (
    LoadParams,
    Segment,
    build_segments,
    join_all,
    merge_after,
    merge_segments,
    touching,
    unseen,
)

RunKey = tuple[str, int]  # (device, start): one run of one device
HISTORY_AFTER_RUNS = 8  # runs judged whole after a runner's `History` beyond which it is made anew (amortised)
_start = attrgetter("start_ms")


def key_of(run: RunSummary) -> RunKey:
    return run.device_id, run.start_ms


_MISSING = object()


class _Over(Mapping):
    """`ChainMap(top, base)` of two maps, read only, looked up through `dict.get` (a live step
    looks up its runs in the runs after the history, over the history's)."""

    __slots__ = ("base", "top")

    def __init__(self, top: Mapping, base: Mapping) -> None:
        self.top, self.base = top, base

    def __getitem__(self, key: Any) -> Any:
        value = self.top.get(key, _MISSING)
        return self.base[key] if value is _MISSING else value

    def get(self, key: Any, default: Any = None) -> Any:
        value = self.top.get(key, _MISSING)
        return self.base.get(key, default) if value is _MISSING else value

    def __contains__(self, key: object) -> bool:
        return key in self.top or key in self.base

    def __iter__(self) -> Iterator:
        return iter({**self.base, **self.top})

    def __len__(self) -> int:
        return len({**self.base, **self.top})


@dataclass(frozen=True)
class Runs:
    """A runner's runs: every device's runs, and the ones that count (one per overlap, RULES.md §7).

    Built whole by `Runs.of`, or as a runner's `History` followed by the runs after it (`then`),
    which shares the history's summaries, choices and indexes instead of making them again."""

    every: tuple[RunSummary, ...]  # ordered by end
    counted: tuple[RunSummary, ...]  # ordered by end
    winner_of: Mapping[RunKey, RunSummary]  # each run -> the run counted for its overlap group
    open_keys: frozenset[RunKey]  # runs not yet judged whole
    groups: Mapping[RunKey, list[RunSummary]]  # the counted run's key -> its overlap group, by end
    counted_ends: list[int]  # `counted`'s ends, to find a window by bisection
    device_kms: Mapping[str, tuple[list[int], list[float]]]  # device -> ends and km of its counted runs

    @classmethod
    def of(cls, every: Sequence[RunSummary], open_keys: Iterable[RunKey] = ()) -> Runs:
        """`every` (ordered by end, then device) with one run counted per overlap."""
        if len(every) == 1:  # a live run after the history, as a rule: it counts, alone
            (run,) = every
            key = key_of(run)
            return cls(
                every=(run,),
                counted=(run,),
                winner_of={key: run},
                open_keys=frozenset(open_keys),
                groups={key: [run]},
                counted_ends=[run.end_ms],
                device_kms={run.device_id: ([run.end_ms], [run.km])},
            )
        winner_of = one_per_overlap(every)
        counted = tuple(run for run in every if winner_of[key_of(run)] is run)
        groups: dict[RunKey, list[RunSummary]] = {}
        for run in every:
            groups.setdefault(key_of(winner_of[key_of(run)]), []).append(run)
        device_kms: dict[str, tuple[list[int], list[float]]] = {}
        for run in counted:
            ends, kms = device_kms.setdefault(run.device_id, ([], []))
            ends.append(run.end_ms)
            kms.append(run.km)
        return cls(
            every=tuple(every),
            counted=counted,
            winner_of=winner_of,
            open_keys=frozenset(open_keys),
            groups=groups,
            counted_ends=[run.end_ms for run in counted],
            device_kms=device_kms,
        )

    def then(self, later: Runs) -> Runs:
        """These runs followed by `later`, all of which start after every one of these ends (so no
        overlap group spans both, and the order by end is the two orders one after the other)."""
        if not self.every:
            return later
        device_kms = {**self.device_kms, **later.device_kms}  # a few devices
        for device, (ends, kms) in later.device_kms.items():
            if device in self.device_kms:
                device_kms[device] = (self.device_kms[device][0] + ends, self.device_kms[device][1] + kms)
        return Runs(
            every=self.every + later.every,
            counted=self.counted + later.counted,
            winner_of=_Over(later.winner_of, self.winner_of),
            open_keys=self.open_keys | later.open_keys,
            groups=_Over(later.groups, self.groups),
            counted_ends=self.counted_ends + later.counted_ends,
            device_kms=device_kms,
        )

    def joined(self, later: Runs) -> Runs:
        """`then`, with one map each instead of chained ones (a history taken further, run by run,
        does not chain a map per run)."""
        if not self.every:
            return later
        device_kms = dict(self.device_kms)
        for device, (ends, kms) in later.device_kms.items():
            before_ends, before_kms = device_kms.get(device, ([], []))
            device_kms[device] = (before_ends + ends, before_kms + kms)
        return Runs(
            every=self.every + later.every,
            counted=self.counted + later.counted,
            winner_of={**self.winner_of, **later.winner_of},
            open_keys=self.open_keys | later.open_keys,
            groups={**self.groups, **later.groups},
            counted_ends=self.counted_ends + later.counted_ends,
            device_kms=device_kms,
        )

    def members(self, winner: RunSummary) -> list[RunSummary]:
        """The runs an overlap group holds: the counted one first."""
        key = key_of(winner)
        return [winner, *(run for run in self.groups.get(key, ()) if key_of(run) != key)]

    def is_open(self, winner: RunSummary) -> bool:
        return any(key_of(run) in self.open_keys for run in self.members(winner))

    def window(self, after_ms: int, until_ms: int) -> tuple[RunSummary, ...]:
        """The counted runs that end in (after_ms, until_ms], in order: all a window of load sees."""
        lo = bisect.bisect_right(self.counted_ends, after_ms)
        return self.counted[lo : bisect.bisect_right(self.counted_ends, until_ms, lo)]

    def since(self, after_ms: int) -> tuple[RunSummary, ...]:
        """The counted runs that end after `after_ms`, in order."""
        return self.counted[bisect.bisect_right(self.counted_ends, after_ms) :]

    def device_km(self, device: str, until_ms: int) -> float:
        """`device_km(self.counted, device, until_ms)`, summed over the same runs in the same order."""
        ends, kms = self.device_kms.get(device, ((), ()))
        return sum(kms[: bisect.bisect_right(ends, until_ms)])


@dataclass(frozen=True)
class History:
    """A runner's runs judged whole that end before any other run of it starts: grouped,
    summarised and chosen once, and shared by the steps after it, so a live step summarises only
    the runs after the history (the open one), whatever the number of runs before.

    It holds each device's first `prefix[device]` segments; a step keeps it while those segments
    stay the same objects and the next one starts another run (`holds_prefix_of`); runs judged
    whole after it are taken into a new one (`taken_further`)."""

    params: LoadParams
    prefix: dict[str, int]  # device -> how many of its leading segments the history holds
    last: dict[str, Segment]  # device -> the last of them
    runs: Runs
    reach_ms: int | None  # the latest end of its runs
    apart: bool  # no two of its segments touch (as `merge_segments` leaves them), so merging may skip them

    @classmethod
    def of(
        cls, devices: Mapping[str, Sequence[Segment]], params: LoadParams, known: Summaries | None = None
    ) -> History:
        """The history of `devices`; the runs `known` (summarised by a step before) are not summarised again."""
        groups_of = {device: group_runs(segments, params) for device, segments in devices.items()}
        open_starts = [
            group[0].start_ms
            for groups in groups_of.values()
            for group in groups
            if any(segment.open for segment in group)
        ]
        cutoff = min(open_starts, default=None)
        prefix: dict[str, int] = {}
        last: dict[str, Segment] = {}
        held: dict[str, list[list[Segment]]] = {}
        for device, groups in groups_of.items():
            taken: list[list[Segment]] = []
            for group in groups:
                if any(segment.open for segment in group) or (cutoff is not None and group[-1].end_ms >= cutoff):
                    break
                taken.append(group)
            prefix[device] = sum(len(group) for group in taken)
            if taken:
                last[device] = taken[-1][-1]
            held[device] = taken
        every, open_keys = _summaries(held, params, known)
        reach = max((run.end_ms for run in every), default=None)
        apart = all(
            not touching(a, b, params)
            for device, count in prefix.items()
            for a, b in zip(devices[device][: count - 1], devices[device][1:count])
        )
        return cls(params=params, prefix=prefix, last=last, runs=Runs.of(every, open_keys), reach_ms=reach, apart=apart)

    def taken_further(
        self, tail: Mapping[str, list[list[Segment]]], made: Mapping[RunKey, tuple[tuple[Segment, ...], RunSummary]]
    ) -> tuple[History, set[RunKey]] | None:
        """This history with the runs after it that `History.of` would take now (judged whole, ending
        before any open run starts), and their keys; None when there are none. `tail` is each device's
        runs after this history's segments, summarised in `made`; none of them may start within this
        history (`reach_ms`), so no overlap of sources spans both and its runs are joined to these as
        they are, instead of grouping and summarising every run again."""
        open_starts = [group[0].start_ms for groups in tail.values() for group in groups if _is_open(group)]
        cutoff = min(open_starts, default=None)
        prefix, last, apart = dict(self.prefix), dict(self.last), self.apart
        taken: list[RunSummary] = []
        for device, groups in tail.items():
            segments: list[Segment] = []
            for group in groups:
                if _is_open(group) or (cutoff is not None and group[-1].end_ms >= cutoff):
                    break
                segments.extend(group)
                taken.append(made[(device, group[0].start_ms)][1])
            if not segments:
                continue
            chain = [last[device], *segments] if device in last else segments
            apart = apart and not any(touching(a, b, self.params) for a, b in zip(chain, chain[1:]))
            prefix[device] = prefix.get(device, 0) + len(segments)
            last[device] = segments[-1]
        if not taken:
            return None
        taken.sort(key=lambda run: (run.end_ms, run.device_id))
        reach = max(run.end_ms for run in taken)
        further = History(
            params=self.params,
            prefix=prefix,
            last=last,
            runs=self.runs.joined(Runs.of(taken)),
            reach_ms=reach if self.reach_ms is None else max(self.reach_ms, reach),
            apart=apart,
        )
        return further, {key_of(run) for run in taken}

    def merge(self, device: str, old: Sequence[Segment], new: Sequence[Segment]) -> tuple[Segment, ...]:
        """`merge_segments(old, new)`, skipping the history's segments when they cannot change."""
        if self.apart:
            merged = merge_after(old, self.prefix.get(device, 0), new, self.params)
            if merged is not None:
                return merged
        return merge_segments(old, new, self.params)

    def holds_prefix_of(self, segments: Sequence[Segment], device: str, first_new_ms: int) -> bool:
        """Whether `segments` (the device's, after new segments starting at `first_new_ms` or later
        were merged in) still begin with this history's segments, then another run."""
        count = self.prefix.get(device, 0)
        if count == 0:
            return True
        last = self.last[device]
        return (
            first_new_ms > last.end_ms
            and len(segments) >= count
            and segments[count - 1] is last
            and (len(segments) == count or not same_run(last, segments[count], self.params))
        )


BEFORE_KEPT = 4  # runs whose `Before` a runner's state keeps (a few sources live at once)


@dataclass(frozen=True)
class Before:
    """What a run's evaluation takes from the runs before it (`RunnerState.before`)."""

    runs: tuple[RunSummary, ...]  # the very runs, ordered by end
    load: LoadBefore  # their load sums, at the run's end (and for the rest of that day)
    baseline: float | None  # the cadence baseline at the run's start

    def holds(self, runs: tuple[RunSummary, ...], end_ms: int) -> bool:
        """Whether these are the very runs `runs`, and their sums hold at `end_ms`."""
        return (
            self.load.since_ms <= end_ms < self.load.until_ms
            and len(self.runs) == len(runs)
            and all(map(is_, self.runs, runs))
        )


@dataclass(frozen=True)
class Summaries:
    """Runs summarised by a step, kept for the next one: a run's summary is a function of its
    segments, which are immutable, so a run whose segments are the very same objects has the same
    summary (during a live run only the open run changes, once a second). Each entry holds its
    segments, so they cannot be freed and their identity reused. Never changed once made: a step
    makes a new one (`RunnerState.all_runs` keeps only the runs it summarised), so a state's
    summaries are bounded by its runs after the history, and go with it (`forget_history`)."""

    params: LoadParams
    runs: Mapping[RunKey, tuple[tuple[Segment, ...], RunSummary]]  # (device, start) -> segments, summary

    def summary(
        self, device: str, group: Sequence[Segment], made: dict[RunKey, tuple[tuple[Segment, ...], RunSummary]]
    ) -> RunSummary:
        """`summarise(device, group, self.params)`, taken from these or `made` when the group is the
        same segments; a new summary (or one found here) is added to `made`."""
        key = (device, group[0].start_ms)
        for source in (made, self.runs):
            found = source.get(key)
            if found is not None and _same_objects(found[0], group):
                made[key] = found
                return found[1]
        run = summarise(device, group, self.params)
        made[key] = (tuple(group), run)
        return run


_NO_SUMMARIES: Mapping[RunKey, tuple[tuple[Segment, ...], RunSummary]] = {}


def _is_open(group: Sequence[Segment]) -> bool:
    return any(segment.open for segment in group)


def _same_objects(a: Sequence[Segment], b: Sequence[Segment]) -> bool:
    return len(a) == len(b) and all(map(is_, a, b))


def _summaries(
    groups_of: Mapping[str, Iterable[Sequence[Segment]]],
    params: LoadParams,
    known: Summaries | None = None,
    made: dict[RunKey, tuple[tuple[Segment, ...], RunSummary]] | None = None,
) -> tuple[list[RunSummary], set[RunKey]]:
    """Every group summarised, ordered by end (then device), and the keys of the open ones; the
    summaries `known` (of the same params) are taken as they are, and every one is put in `made`."""
    if known is None:
        known = Summaries(params, _NO_SUMMARIES)
    if made is None:
        made = {}
    every: list[RunSummary] = []
    open_keys = set()
    for device, groups in groups_of.items():
        for group in groups:
            run = known.summary(device, group, made)
            if any(segment.open for segment in group):
                open_keys.add((device, run.start_ms))
            every.append(run)
    every.sort(key=lambda run: (run.end_ms, run.device_id))
    return every, open_keys


class RunnerState(BaseModel):
    """What the stream remembers of a runner: segments of each device, and when it began."""

    model_config = ConfigDict(frozen=True)

    runner: str
    first_seen_ms: int | None = None
    devices: dict[str, tuple[Segment, ...]] = {}
    _history: History | None = PrivateAttr(default=None)  # kept in memory only, never stored
    _summaries: Summaries | None = PrivateAttr(default=None)  # the last step's, kept in memory only
    _before: Mapping[RunKey, Before] | None = PrivateAttr(default=None)  # the last runs evaluated, in memory only

    def runs(self, params: LoadParams) -> list[RunSummary]:
        """The runs that count, one per overlap of sources, ordered by end."""
        return list(self.all_runs(params).counted)

    def all_runs(self, params: LoadParams) -> Runs:
        """Every device's runs, the ones that count, and which runs are still open: the runner's
        `History`, made once and taking the runs judged whole after it as they come
        (`History.taken_further`), followed by the runs after it, summarised once (`Summaries`)."""
        history = self.history(params)
        known = self.summaries(params)
        made: dict[RunKey, tuple[tuple[Segment, ...], RunSummary]] = {}
        for made_anew in (False, True):
            tail = {
                device: group_runs(segments[history.prefix.get(device, 0) :], params)
                for device, segments in self.devices.items()
            }
            every, open_keys = _summaries(tail, params, known, made)
            reaches_back = history.reach_ms is not None and any(run.start_ms <= history.reach_ms for run in every)
            if not reaches_back and len(every) > len(open_keys):
                # runs judged whole after the history (one judged by the step before): taken into it
                # as they are, so a live step after them sees the open run only
                further = history.taken_further(tail, made)
                if further is not None:
                    history, taken = further
                    _kept(self)["_history"] = history
                    every = [run for run in every if key_of(run) not in taken]
            judged = len(every) - len(open_keys)
            if made_anew or not (reaches_back or judged > HISTORY_AFTER_RUNS):
                break
            # runs judged whole have piled up after the history, or a run reaches back into it (a
            # late source of an old run): the history is made anew, once
            known, made = Summaries(params, {**known.runs, **made}), {}
            history = _kept(self)["_history"] = History.of(self.devices, params, known)
        if reaches_back:  # still: choose among all runs
            known, made = Summaries(params, {**known.runs, **made}), {}
            groups_of = {device: group_runs(segments, params) for device, segments in self.devices.items()}
            every, open_keys = _summaries(groups_of, params, known, made)
            _kept(self)["_summaries"] = Summaries(params, made)
            return Runs.of(every, open_keys)
        _kept(self)["_summaries"] = Summaries(params, made)
        return history.runs.then(Runs.of(every, open_keys))

    def summaries(self, params: LoadParams) -> Summaries:
        """The runs the last step summarised (none if made with other params)."""
        known = _kept(self)["_summaries"]
        if known is None or (known.params is not params and known.params != params):
            return Summaries(params, _NO_SUMMARIES)
        return known

    def history(self, params: LoadParams) -> History:
        """The runner's `History`, made on first use and kept by the steps after it."""
        history = _kept(self)["_history"]
        if history is None or (history.params is not params and history.params != params):
            history = _kept(self)["_history"] = History.of(self.devices, params, self.summaries(params))
        return history

    def maybe_open(self) -> list[Sequence[Segment]]:
        """Each device's segments that may be open: those after its history's (which holds runs
        judged whole only), not the runner's every run (the stream asks after every step)."""
        history = _kept(self)["_history"]
        if history is None:
            return list(self.devices.values())
        return [segments[history.prefix.get(device, 0) :] for device, segments in self.devices.items()]

    def forget_history(self) -> None:
        """Let the history's summaries go (a runner with no run under way: its next step makes them
        again, once), so the runners at rest hold their segments only."""
        _kept(self).update(_history=None, _summaries=None, _before=None)

    def before(self, run: RunSummary, runs_before: tuple[RunSummary, ...]) -> Before:
        """What `run`'s evaluation takes from the runs before it (`runs_before`: its window of runs,
        ordered by end, but it, the last): their load sums and the cadence baseline at its start.
        Kept for the steps after it: the next sample of a live run finds the very same runs
        before it, and an end that moved by a second, within the day the sums hold for."""
        kept = _kept(self)
        known = kept["_before"] or {}
        key = key_of(run)
        found = known.get(key)
        if found is not None and found.holds(runs_before, run.end_ms):
            return found
        before = Before(runs_before, load_before(runs_before, run.end_ms), cadence_baseline(runs_before, run.start_ms))
        others = [(other, kept_before) for other, kept_before in known.items() if other != key]
        kept["_before"] = dict([*others[-(BEFORE_KEPT - 1) :], (key, before)])
        return before

    def starts_run_at(self, device: str, start_ms: int, params: LoadParams) -> bool:
        """Whether one of the device's runs starts at `start_ms` (its first segment starts there)."""
        segments = self.devices.get(device, ())
        index = bisect.bisect_left(segments, start_ms, key=_start)
        if index == len(segments) or segments[index].start_ms != start_ms:
            return False
        return index == 0 or not same_run(segments[index - 1], segments[index], params)

    def runs_near(self, device: str, first_ms: int, last_ms: int, params: LoadParams) -> list[RunSummary]:
        """The device's runs that could hold a sample in [first_ms, last_ms]: those around it only."""
        known, made = self.summaries(params), {}
        return [known.summary(device, group, made) for group in self.groups_near(device, first_ms, last_ms, params)]

    def groups_near(self, device: str, first_ms: int, last_ms: int, params: LoadParams) -> list[list[Segment]]:
        """The segments of `runs_near`'s runs, run by run (not summarised)."""
        segments = self.devices.get(device, ())
        lo = max(0, bisect.bisect_left(segments, first_ms - params.run_gap_ms, key=_start) - 1)
        hi = bisect.bisect_right(segments, last_ms + params.run_gap_ms, key=_start)
        while lo > 0 and same_run(segments[lo - 1], segments[lo], params):  # widen to whole runs
            lo -= 1
        while 0 < hi < len(segments) and same_run(segments[hi - 1], segments[hi], params):
            hi += 1
        return group_runs(segments[lo:hi], params)

    def segments_of(self, run: RunSummary) -> list[Segment]:
        """The device's segments within the run (segments are ordered and do not overlap)."""
        segments = self.devices.get(run.device_id, ())
        found = []
        for index in range(bisect.bisect_left(segments, run.start_ms, key=_start), len(segments)):
            segment = segments[index]
            if segment.start_ms > run.end_ms:
                break
            if segment.end_ms <= run.end_ms:
                found.append(segment)
        return found


def _kept(state: RunnerState) -> dict[str, Any]:
    """The state's private attributes (`_history`, `_summaries`) as pydantic keeps them, read and set
    as a dict: through `BaseModel.__getattr__` a read costs microseconds, on every step of every
    runner under way."""
    return state.__pydantic_private__  # type: ignore[return-value]


_STATE_FIELDS = frozenset(RunnerState.model_fields)


def _state(
    runner: str,
    first_seen_ms: int | None,
    devices: dict[str, tuple[Segment, ...]],
    history: History | None,
    summaries: Summaries | None,
    before: Mapping[RunKey, Before] | None,
) -> RunnerState:
    """`RunnerState.model_construct(runner=..., first_seen_ms=..., devices=...)` with what it keeps
    in memory set, made directly (a step makes one for every sample of a live runner; pydantic's
    `model_construct` goes through its fields and private defaults one by one). Its segments are
    already valid: they are the state's own, or made by `streams.segments`."""
    state = object.__new__(RunnerState)
    object.__setattr__(state, "__dict__", {"runner": runner, "first_seen_ms": first_seen_ms, "devices": devices})
    object.__setattr__(state, "__pydantic_fields_set__", set(_STATE_FIELDS))
    object.__setattr__(state, "__pydantic_extra__", None)
    object.__setattr__(state, "__pydantic_private__", {"_history": history, "_summaries": summaries, "_before": before})
    return state


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
    history = _kept(state)["_history"]
    known, made = state.summaries(params), {}
    fresh: list[CountedSample] = []
    touched: list[RunSummary] = []
    for device, device_samples in by_device.items():
        old = devices.get(device, ())
        groups = unseen(device_samples, old)
        if not groups:
            continue
        new_segments = [segment for group in groups for segment in build_segments(group, params, arrived_ms)]
        if history is not None and (history.params is params or history.params == params):
            devices[device] = history.merge(device, old, new_segments)
        else:
            devices[device] = merge_segments(old, new_segments, params)
        new_ts = [segment.start_ms for segment in new_segments]
        if history is not None and not history.holds_prefix_of(devices[device], device, min(new_ts)):
            history = None  # made again on first use
        fresh.extend(sample for group in groups for sample in group)
        touched.extend(_runs_containing(device, devices[device], new_ts, known, made))
    if not fresh:
        return Counted(state=state, fresh=(), touched=())
    first_seen = min(sample.ts for sample in fresh)
    if state.first_seen_ms is not None:
        first_seen = min(first_seen, state.first_seen_ms)
    summaries = Summaries(params, {**known.runs, **made})
    new_state = _state(state.runner, first_seen, devices, history, summaries, _kept(state)["_before"])
    return Counted(state=new_state, fresh=tuple(fresh), touched=tuple(sorted(touched, key=lambda r: r.end_ms)))


def _runs_containing(
    device: str,
    segments: tuple[Segment, ...],
    ts_list: list[int],
    known: Summaries,
    made: dict[RunKey, tuple[tuple[Segment, ...], RunSummary]],
) -> list[RunSummary]:
    """The device's runs holding a segment that starts at one of `ts_list`: found by bisection and
    widened to whole runs (`group_runs`), not by grouping every segment."""
    found: list[RunSummary] = []
    params = known.params
    hi = 0  # the end (exclusive) of the last run found: timestamps are taken in order
    for ts in sorted(set(ts_list)):
        index = bisect.bisect_right(segments, ts, key=_start) - 1
        if index < hi:  # before every segment, or in the run just found
            continue
        lo = index
        while lo > 0 and same_run(segments[lo - 1], segments[lo], params):
            lo -= 1
        hi = index + 1
        while hi < len(segments) and same_run(segments[hi - 1], segments[hi], params):
            hi += 1
        found.append(known.summary(device, segments[lo:hi], made))
    return found


def is_whole(run: RunSummary, arrived_ms: int, now_ms: int, params: LoadParams) -> bool:
    """RULES.md §1 "a whole run": no sample of it within the run gap of event time (now), and
    none of it arriving for `settle_ms`."""
    return now_ms - run.end_ms >= params.run_gap_ms and now_ms - arrived_ms >= params.settle_ms


def seal(state: RunnerState, now_ms: int, params: LoadParams) -> tuple[RunnerState, list[RunSummary]]:
    """Judge open runs that are whole at `now_ms`: each becomes one closed segment claiming the
    whole run (`streams.segments`). Returns the new state and the device runs sealed."""
    devices: dict[str, tuple[Segment, ...]] = {}
    sealed: list[RunSummary] = []
    known, made = state.summaries(params), {}
    for device, segments in state.devices.items():
        kept: list[Segment] = []
        for group in group_runs(segments, params):
            arrivals = [segment.arrived_ms for segment in group if segment.arrived_ms is not None]
            run = known.summary(device, group, made) if arrivals else None  # runs judged before: as they are
            if run is not None and is_whole(run, max(arrivals), now_ms, params):
                kept.append(join_all(group, params).model_copy(update={"arrived_ms": None}))
                sealed.append(run)
            else:
                kept.extend(group)
        devices[device] = tuple(kept)
    if not sealed:
        return state, []
    # The history holds no open run and a sealed run keeps its start, end and run id: it stays valid
    # (`RunnerState.all_runs` takes the sealed runs into it). The runs not sealed keep their summaries.
    kept = _kept(state)
    sealed_state = _state(state.runner, state.first_seen_ms, devices, kept["_history"], known, kept["_before"])
    return sealed_state, sorted(sealed, key=lambda r: r.end_ms)


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
    return evaluation_with(run, load_at(runs, run.end_ms, first_seen_ms), baseline, now_ms, params, device_km, final)


def evaluation_with(
    run: RunSummary,
    load: LoadSnapshot,
    baseline: float | None,
    now_ms: int,
    params: LoadParams,
    device_km: float | None,
    final: bool,
) -> RunEvaluation:
    """`evaluate`, given the load at the run's end and the cadence baseline."""
    return built(
        RunEvaluation,
        {
            "run": run,
            "load": load,
            "cadence_baseline_spm": None if baseline is None else float(baseline),
            "cadence_dev_pct": cadence_dev_pct(run.cadence_spm, baseline),
            "live": now_ms - run.end_ms < params.run_gap_ms,
            "final": bool(final),
            "device_km": None if device_km is None else float(device_km),  # a sum of no runs is 0, not 0.0
        },
    )


def device_km(runs: Sequence[RunSummary], device: str, until_ms: int) -> float:
    """A device's lifetime distance up to `until_ms` (shoe wear), from the runs that count."""
    return sum(run.km for run in runs if run.device_id == device and run.end_ms <= until_ms)
