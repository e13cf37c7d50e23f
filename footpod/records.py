"""Internal records passed between stages over Kafka (not public: CONTRACT.md leaves them to us)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar

import msgspec
from pydantic import BaseModel, ConfigDict, TypeAdapter

Model = TypeVar("Model", bound=BaseModel)


def built(cls: type[Model], fields: dict[str, Any]) -> Model:
    """`cls(**fields)` for a record built from values that already have their fields' types (a float
    where a float goes: pydantic would convert nothing), every field given: made as `model_construct`
    makes it, without going through the fields one by one (a live runner's step builds a few records a
    second; validating them was a tenth of its time)."""
    model = _new(cls)
    _set(model, "__dict__", fields)
    _set(model, "__pydantic_fields_set__", set(fields))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


_new, _set = object.__new__, object.__setattr__


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class RunSummary(_Record):
    """One run of one device, summarised from its samples."""

    run_id: str
    device_id: str
    start_ms: int
    end_ms: int
    km: float
    samples: int
    cadence_spm: float | None

    @property
    def duration_s(self) -> float:
        return (self.end_ms - self.start_ms) / 1000


class LoadSnapshot(_Record):
    """A runner's load at one instant of event time (RULES.md §1)."""

    as_of_ms: int
    week_km: float
    prev_week_km: float
    change_pct: float | None
    chronic_week_km: float
    acwr: float | None
    acwr_ewma: float | None
    history_days: float


class RunEvaluation(_Record):
    """A run with the load at its end and its cadence against the runner's baseline."""

    run: RunSummary
    load: LoadSnapshot
    cadence_baseline_spm: float | None
    cadence_dev_pct: float | None
    live: bool
    # judged whole (RULES.md §1 "a whole run"): run-level rules apply only then; an update of a run
    # still open (live, or a backlog still arriving) says False
    final: bool = True
    device_km: float | None = None  # the device's lifetime distance up to this run's end


class RunnerUpdate(_Record):
    """What the stream tells the alert worker after a step: the runs it touched and the latest."""

    runner: str
    team: str
    touched: tuple[RunEvaluation, ...]
    latest: RunEvaluation
    recent: tuple[RunSummary, ...] = ()  # every run of the last weeks, for rules that look back
    # `recent` is every counted run that ends after this instant: the receiver's runs ending after it are
    # replaced by `recent` (an older version of a run still growing included); None from an older stream
    recent_after_ms: int | None = None
    # what `recent` holds. "window": every counted run that ends after `recent_after_ms`, as above (an
    # update without this field, from an older stream, means it too). "delta": only the counted runs of
    # the overlaps the step changed, where no other counted run changed (a live sample, as a rule):
    # each replaces the receiver's run of the same device and start, or is inserted, by end; every
    # other run stays as the receiver knows it (`recent_after_ms` None)
    recent_kind: Literal["window", "delta"] = "window"


UPDATES_RECORD_BYTES = 256 * 1024  # a record of updates is cut here, well below Kafka's 1 MB message limit


def pack_json(values: Iterable[tuple[int, bytes]], max_bytes: int) -> list[tuple[int, bytes]]:
    """JSON values, each for a partition, as Kafka records `(partition, JSON array)`: the values of one
    partition go together in their order, at most `max_bytes` a record (a value bigger than that
    alone). Thousands of live runners make thousands of small values a second; a record per
    partition and batch instead of one per value spares every hop its per-record cost."""
    records: list[tuple[int, bytes]] = []
    open_parts: dict[int, list[bytes]] = {}
    sizes: dict[int, int] = {}
    for partition, value in values:
        part = open_parts.get(partition)
        if part and sizes[partition] + len(value) + 1 > max_bytes:
            records.append((partition, b"[" + b",".join(part) + b"]"))
            part = None
        if not part:
            part = open_parts[partition] = []
            sizes[partition] = 2
        part.append(value)
        sizes[partition] += len(value) + 1
    records.extend((partition, b"[" + b",".join(part) + b"]") for partition, part in open_parts.items())
    return records


class _WireUpdate(RunnerUpdate):
    """A `RunnerUpdate` as `pack_updates` writes it: its `latest` left out where it is one of its
    `touched` evaluations (a live step's update: the run the sample touched is the latest), and that
    evaluation's index in `latest_touched` instead. It was sent twice: half of every live update's
    bytes, and of the alert worker's time decoding it."""

    latest: RunEvaluation | None = None
    latest_touched: int | None = None


_WITHOUT_LATEST = {"latest"}


def _wire(update: RunnerUpdate) -> bytes:
    to_json = update.__pydantic_serializer__.to_json  # `model_dump_json`, as bytes
    for index, evaluation in enumerate(update.touched):
        if evaluation is update.latest:
            return to_json(update, exclude=_WITHOUT_LATEST)[:-1] + b',"latest_touched":%d}' % index
    return to_json(update)


def pack_updates(
    updates: Iterable[RunnerUpdate], partition_of: Callable[[str], int], max_bytes: int = UPDATES_RECORD_BYTES
) -> list[tuple[int, bytes]]:
    """Updates as Kafka records `(partition, value)` (`pack_json`): the updates of the runners on one
    partition of `footpod.updates` (`partition_of`, the partition the runner's key hashes to) go
    together, so each runner's stay with its alert worker and in order. Each as `_WireUpdate`."""
    return pack_json(((partition_of(update.runner), _wire(update)) for update in updates), max_bytes)


_UPDATES = TypeAdapter(list[_WireUpdate])


def unpack_updates(value: bytes) -> list[RunnerUpdate]:
    """A record of `pack_updates`; a record holding one update as an object (as sent before updates
    were packed), or updates with their `latest` written out (as sent before `_WireUpdate`), is read
    too, so a topic written by an older stream is read through."""
    if value.lstrip()[:1] == b"[":
        return [_restored(wire) for wire in _UPDATES.validate_json(value)]
    return [_restored(_WireUpdate.model_validate_json(value))]


def _restored(wire: _WireUpdate) -> RunnerUpdate:
    """The update a `_WireUpdate` stands for: its `latest` taken from `touched` where it was left out.
    Every value validated already (`built`)."""
    fields = wire.__dict__
    latest = fields["latest"]
    if latest is None:
        index = fields["latest_touched"]
        if index is None or not 0 <= index < len(fields["touched"]):
            raise ValueError(f"an update of {fields['runner']} names no latest run (latest_touched {index})")
        latest = fields["touched"][index]
    values = dict(fields)
    del values["latest_touched"]
    values["latest"] = latest
    return built(RunnerUpdate, values)


class SampleRecord(msgspec.Struct, frozen=True):
    """A sample as the stream reads it back from the bridge's record (`footpod.contract.CountedSample`'s
    fields): validated once, at the bridge, and decoded here without a second validation."""

    ts: int
    device_id: str
    cadence_spm: float
    distance_m: float
    speed_mps: float | None = None
    seq: int | None = None
    run_id: str | None = None


class SampleBatchRecord(msgspec.Struct, frozen=True):
    """`footpod.contract.SampleBatch` as the stream decodes it."""

    runner: str
    received_ms: int
    samples: tuple[SampleRecord, ...]


decode_sample_batch = msgspec.json.Decoder(SampleBatchRecord).decode
"""A `SampleBatch` as JSON decoded in one pass into plain structs."""
_decode_sample_batches = msgspec.json.Decoder(list[SampleBatchRecord]).decode


def decode_sample_batches(value: bytes) -> list[SampleBatchRecord]:
    """A record of `footpod.samples`: the bridge packs the batches of the runners on one partition
    into a JSON array (`pack_json`); a record holding one batch as an object (as written before
    batches were packed) is read too."""
    if value.lstrip()[:1] == b"[":
        return _decode_sample_batches(value)
    return [decode_sample_batch(value)]
