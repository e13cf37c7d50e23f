"""Internal records passed between stages over Kafka (not public: CONTRACT.md leaves them to us)."""

from __future__ import annotations

import msgspec
from pydantic import BaseModel, ConfigDict


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
"""A bridge record (`SampleBatch` JSON) decoded in one pass into plain structs."""
