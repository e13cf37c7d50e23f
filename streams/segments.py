"""Samples to segments: the compact, idempotent memory of what a device has sent.

A segment is a stretch of one device's samples that claims every timestamp between its first
and last sample: a sample of that device whose `ts` falls inside a segment has been counted
already (RULES.md §7: identity is (device, ts)). Anything else is new and is merged in; merging is
order-independent. A segment keeps the distance it covers and its end readings, not its samples.

Why claims are built in two ways (any sampling rate, issue 8):

- While a run is open, a segment claims only what is known to have no sample missing:
  consecutive samples at most `contiguous_ms` (1.5 s) apart. Gaps alone cannot tell whether a
  device that records every 1-10 s ("smart recording") lost a sample or simply waited, so any
  longer gap keeps the two sides apart, and a sample that arrives later for that gap is counted.
  This is exact for every arrival order, at the price of one segment per sample for a slow or
  irregular device while its run is open.
- Once the run is judged whole (`RunnerState.seal`, RULES.md §1 "a whole run": over in event
  time and nothing of it arriving for 30 s), its segments are joined into one that claims the
  whole run. A sample of it that still arrives later is a re-send (the run synced again) and adds
  nothing; had it really been missing, its distance is already in the run, because the device's
  distance is cumulative and the step over the gap counts it (`distance_step`).

So the state grows with runs, not with samples, and the durable record of a run (its `run`
point) stays one segment long, far below InfluxDB's 64 KB field limit. An adaptive gap
threshold was rejected: a 1 Hz device whose samples arrive shuffled would claim holes it has not
seen, and an irregular device has no single interval to adapt to.
"""

from __future__ import annotations

import bisect
import json
import math
import struct
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import msgspec
from pydantic import BaseModel, ConfigDict
from pydantic_core import core_schema

from footpod.contract import CountedSample

if TYPE_CHECKING:
    from footpod.settings import Settings


class LoadParams(BaseModel):
    """The "ours" numbers of RULES.md §1; built from settings only, by `load_params` (their defaults
    live in `footpod/settings.py`, once)."""

    model_config = ConfigDict(frozen=True)

    run_gap_ms: int  # RULES.md §1 run: gaps of at most FOOTPOD_RUN_GAP_S
    glitch_mps: float  # RULES.md §1 run distance: faster steps are glitches
    running_cadence_spm: float  # RULES.md §1 cadence of a run: walking excluded
    settle_ms: int  # RULES.md §1 a whole run (ours): nothing of it arriving for FOOTPOD_RUN_SETTLE_S
    contiguous_ms: int = 1_500  # an open segment's claim: a 1 Hz stream with jitter; anything wider may hide a sample


def load_params(settings: Settings) -> LoadParams:
    """The one place settings become load parameters."""
    return LoadParams(
        run_gap_ms=int(settings.run_gap_s * 1000),
        glitch_mps=settings.glitch_mps,
        running_cadence_spm=settings.running_cadence_spm,
        settle_ms=int(settings.run_settle_s * 1000),
    )


_TALLY = struct.Struct("<dddqqd")  # first_m, last_m, meters, samples, running_samples, running_spm_sum
_PLAIN = frozenset({"start_ms", "end_ms", "run_id", "arrived_ms"})  # `Segment`'s own fields, not in its tally


def _reading(index: int) -> property:
    """One of a segment's summed readings, read from its packed `tally` (`_TALLY`'s order)."""
    return property(lambda segment: _TALLY.unpack(segment.tally)[index])


class _Stored(msgspec.Struct, frozen=True):
    """A segment as stored (JSON): the names and types `Segment.model_validate` checks."""

    start_ms: int
    end_ms: int
    first_m: float
    last_m: float
    meters: float
    samples: int
    running_samples: int
    running_spm_sum: float
    run_id: str | None = None
    arrived_ms: int | None = None


_FIELDS = _Stored.__struct_fields__  # a segment's names, in their stored order


class Segment(msgspec.Struct, frozen=True, gc=False):
    """A claimed stretch of one device's samples: its distance, counts and end readings.

    `arrived_ms` is the newest arrival (wall clock) of its samples while its run is open; None
    once the run has been judged whole (and for segments stored before runs were judged).

    A plain struct, not a pydantic model: a runner keeps one per run for life. What bisection and
    grouping read (start, end, run id, arrival) are its fields; the readings only summing reads
    (`first_m`, `last_m`, `meters`, `samples`, `running_samples`, `running_spm_sum`) are packed in
    one `tally` of 48 bytes instead of six Python numbers (about 230 bytes a segment instead of 350,
    README "Speed"). Made by `Segment.of` with those names, only from samples validated at the bridge
    or from the stream's own stored points (`model_validate`); dumped with the same names."""

    start_ms: int
    end_ms: int
    tally: bytes
    run_id: str | None = None
    arrived_ms: int | None = None

    @classmethod
    def of(
        cls,
        start_ms: int,
        end_ms: int,
        first_m: float,
        last_m: float,
        meters: float,
        samples: int,
        running_samples: int,
        running_spm_sum: float,
        run_id: str | None = None,
        arrived_ms: int | None = None,
    ) -> Segment:
        tally = _TALLY.pack(first_m, last_m, meters, samples, running_samples, running_spm_sum)
        return cls(start_ms, end_ms, tally, run_id, arrived_ms)

    @property
    def readings(self) -> tuple[float, float, float, int, int, float]:
        """first_m, last_m, meters, samples, running_samples, running_spm_sum."""
        return _TALLY.unpack(self.tally)

    first_m = _reading(0)
    last_m = _reading(1)
    meters = _reading(2)
    samples = _reading(3)
    running_samples = _reading(4)
    running_spm_sum = _reading(5)

    @property
    def open(self) -> bool:
        return self.arrived_ms is not None

    def _values(self) -> tuple:
        return (self.start_ms, self.end_ms, *_TALLY.unpack(self.tally), self.run_id, self.arrived_ms)

    def __eq__(self, other: object) -> bool:
        """Equal readings, as numbers (0.0 and -0.0 alike), not as packed bytes."""
        if not isinstance(other, Segment):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return "Segment(" + ", ".join(f"{name}={value!r}" for name, value in zip(_FIELDS, self._values())) + ")"

    @classmethod
    def model_validate(cls, data: Any) -> Segment:
        """A segment from its stored JSON object (types checked, ints taken as floats)."""
        if isinstance(data, cls):
            return data
        return cls.of(*msgspec.structs.astuple(msgspec.convert(data, _Stored)))

    def model_dump(self) -> dict[str, Any]:
        return dict(zip(_FIELDS, self._values()))

    def json(self) -> str:
        """`json.dumps(self.model_dump(), separators=(",", ":"))`, written directly (a live run's
        point carries its segment, written anew at every sample)."""
        start, end, first, last, meters, samples, running, spm_sum, run_id, arrived = self._values()
        return _JSON % (
            int.__repr__(start),
            int.__repr__(end),
            _json_float(first),
            _json_float(last),
            _json_float(meters),
            int.__repr__(samples),
            int.__repr__(running),
            _json_float(spm_sum),
            "null" if run_id is None else _json_string(run_id),
            "null" if arrived is None else int.__repr__(arrived),
        )

    def model_copy(self, update: dict[str, Any]) -> Segment:
        if update.keys() <= _PLAIN:
            return msgspec.structs.replace(self, **update)
        return Segment.of(**{**self.model_dump(), **update})

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        """Inside a pydantic model (`RunnerState`): checked, converted and dumped as above."""
        return core_schema.no_info_plain_validator_function(
            cls.model_validate, serialization=core_schema.plain_serializer_function_ser_schema(cls.model_dump)
        )


_JSON = "{" + ",".join(f'"{name}":%s' for name in _FIELDS) + "}"
_json_string = json.encoder.encode_basestring_ascii  # as `json.dumps` writes a string (ensure_ascii)


def _json_float(value: float) -> str:
    """A float as `json.dumps` writes it."""
    if value != value:
        return "NaN"
    if value == math.inf:
        return "Infinity"
    if value == -math.inf:
        return "-Infinity"
    return float.__repr__(value)


_start = attrgetter("start_ms")


def distance_step(prev_m: float, next_m: float, dt_ms: int, glitch_mps: float) -> float:
    """Metres one step adds: nothing for a reset (step down) or a glitch (too fast)."""
    step = next_m - prev_m
    if step <= 0 or step * 1000 > glitch_mps * dt_ms:
        return 0.0
    return step


def unseen(samples: Iterable[CountedSample], segments: Sequence[Segment]) -> list[list[CountedSample]]:
    """The samples not yet counted, sorted by ts, each timestamp once, grouped by the hole
    between known segments they fall into (so a new segment never straddles an old one)."""
    fresh: dict[int, tuple[int, CountedSample]] = {}
    for sample in samples:
        ts = sample.ts
        if ts in fresh:
            continue
        index = bisect.bisect_right(segments, ts, key=_start) - 1
        if index >= 0 and ts <= segments[index].end_ms:
            continue
        fresh[ts] = (index, sample)
    groups: list[list[CountedSample]] = []
    hole = None
    for ts in sorted(fresh):
        index, sample = fresh[ts]
        if index != hole or not groups:
            groups.append([])
            hole = index
        groups[-1].append(sample)
    return groups


def build_segments(
    ordered: Sequence[CountedSample], params: LoadParams, arrived_ms: int | None = None
) -> list[Segment]:
    """Open segments of samples already sorted by ts and free of duplicates, arrived at `arrived_ms`."""
    segments: list[Segment] = []
    if not ordered:
        return segments
    running_floor = params.running_cadence_spm
    start = prev = ordered[0]
    meters = 0.0
    count = running = 0
    spm_sum = 0.0
    for sample in ordered:
        if count and (sample.ts - prev.ts > params.contiguous_ms or sample.run_id != prev.run_id):
            segments.append(_segment(start, prev, meters, count, running, spm_sum, arrived_ms))
            start, meters, count, running, spm_sum = sample, 0.0, 0, 0, 0.0
        elif count:
            meters += distance_step(prev.distance_m, sample.distance_m, sample.ts - prev.ts, params.glitch_mps)
        count += 1
        if sample.cadence_spm >= running_floor:
            running += 1
            spm_sum += sample.cadence_spm
        prev = sample
    segments.append(_segment(start, prev, meters, count, running, spm_sum, arrived_ms))
    return segments


def _segment(
    first: CountedSample,
    last: CountedSample,
    meters: float,
    count: int,
    running: int,
    spm_sum: float,
    arrived_ms: int | None,
) -> Segment:
    tally = _TALLY.pack(first.distance_m, last.distance_m, meters, count, running, spm_sum)
    return Segment(first.ts, last.ts, tally, first.run_id, arrived_ms)  # `Segment.of`, without its keywords


def merge_segments(old: Sequence[Segment], new: Sequence[Segment], params: LoadParams) -> tuple[Segment, ...]:
    """All segments in time order, touching ones (no sample missing between them) joined."""
    merged: list[Segment] = []
    for segment in sorted((*old, *new), key=_start):
        if merged and touching(merged[-1], segment, params):
            merged[-1] = join(merged[-1], segment, params)
        else:
            merged.append(segment)
    return tuple(merged)


def merge_after(
    old: Sequence[Segment], kept: int, new: Sequence[Segment], params: LoadParams
) -> tuple[Segment, ...] | None:
    """`merge_segments(old, new, params)` without going through `old[:kept]` again, when those
    are known not to touch one another and every new segment starts after them; None when the
    shortcut does not apply (the new segments reach back, or join the last of them)."""
    if kept == 0:
        return merge_segments(old, new, params)
    last = old[kept - 1]
    if min(segment.start_ms for segment in new) <= last.end_ms:
        return None
    tail = merge_segments(old[kept:], new, params)
    if tail and touching(last, tail[0], params):
        return None
    return (*old[:kept], *tail)


def touching(a: Segment, b: Segment, params: LoadParams) -> bool:
    return b.start_ms - a.end_ms <= params.contiguous_ms and a.run_id == b.run_id


def join(a: Segment, b: Segment, params: LoadParams) -> Segment:
    """One segment covering `a` then `b`, with the step between them counted once; open while
    either is open."""
    a_first, a_last, a_meters, a_samples, a_running, a_spm = _TALLY.unpack(a.tally)
    b_first, b_last, b_meters, b_samples, b_running, b_spm = _TALLY.unpack(b.tally)
    bridge = distance_step(a_last, b_first, b.start_ms - a.end_ms, params.glitch_mps)
    arrivals = [t for t in (a.arrived_ms, b.arrived_ms) if t is not None]
    tally = _TALLY.pack(
        a_first, b_last, a_meters + bridge + b_meters, a_samples + b_samples, a_running + b_running, a_spm + b_spm
    )
    return Segment(a.start_ms, b.end_ms, tally, a.run_id, max(arrivals) if arrivals else None)


def join_all(group: Sequence[Segment], params: LoadParams) -> Segment:
    """The time-ordered segments of one run as one segment claiming the whole run."""
    whole = group[0]
    for segment in group[1:]:
        whole = join(whole, segment, params)
    return whole
