"""The public contract (CONTRACT.md) as pydantic models: every stage imports them from here.

Timestamps are normalised to integer epoch milliseconds on the way in; they leave as RFC 3339.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt

RUNNER_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
DEVICE_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
_RUNNER_RE = re.compile(RUNNER_PATTERN)


EARLIEST_MS = 946_684_800_000  # 2000-01-01: a device reporting earlier has no clock set
LATEST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: the last instant RFC 3339 can write


def epoch_ms(value: object) -> int:
    """Read an RFC 3339 string with an offset, or integer epoch milliseconds, as epoch ms."""
    ms = _epoch_ms(value)
    if ms < EARLIEST_MS:
        raise ValueError("ts is before 2000-01-01: the device clock is not set")
    if ms > LATEST_MS:
        raise ValueError("ts is after 9999-12-31: not a date")
    return ms


def _epoch_ms(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("ts must be an RFC 3339 string or integer epoch milliseconds")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is None:
            raise ValueError("ts needs a UTC offset (e.g. 'Z' or '+01:00')")
        return int(parsed.timestamp() * 1000)
    raise ValueError("ts must be an RFC 3339 string or integer epoch milliseconds")


def iso(ms: int) -> str:
    """Format epoch milliseconds as RFC 3339 in UTC ("2026-11-25T07:41:00Z")."""
    text = datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
    return text.replace(".000+00:00", "Z").replace("+00:00", "Z")


def is_runner_name(name: str) -> bool:
    return bool(_RUNNER_RE.match(name))


EpochMs = Annotated[int, BeforeValidator(epoch_ms)]
Number = dict(allow_inf_nan=False, strict=True)  # a JSON number: `true` is not 1.0, "5" is not 5


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class CountedSample(_Model):
    """A sample as the bridge hands it on: already validated, `ts` in epoch ms (no re-checks)."""

    ts: int
    device_id: str
    cadence_spm: float
    distance_m: float
    speed_mps: float | None = None
    seq: int | None = None
    run_id: str | None = None


class Sample(CountedSample):
    """One footpod reading (CONTRACT.md, `footpod/{runner}/samples`), validated at the edge."""

    ts: EpochMs
    device_id: str = Field(pattern=DEVICE_PATTERN)
    cadence_spm: float = Field(ge=0, le=260, **Number)
    distance_m: float = Field(ge=0, **Number)
    speed_mps: float | None = Field(default=None, ge=0, le=12, **Number)
    seq: StrictInt | None = Field(default=None, ge=0)
    run_id: str | None = Field(default=None, min_length=1, max_length=128)


PainTiming = Literal["during", "after", "next_day"]
RedFlag = Literal[  # RULES.md §3 see_clinician; the one definition (the bridge validates with it)
    "swelling",
    "locking",
    "giving_way",
    "instability",
    "cannot_bear_weight",
    "night_pain",
    "deformity",
    "trauma",
    "worse_at_rest",
    "systemic",
    "sharp_pain",
]
RED_FLAGS: tuple[str, ...] = get_args(RedFlag)
PainLocation = Literal["front", "outside", "below_kneecap", "inside", "back", "other"]


class PainReport(_Model):
    """A knee-pain report (CONTRACT.md, `footpod/{runner}/pain`)."""

    ts: EpochMs
    score: StrictInt = Field(ge=0, le=10)
    timing: PainTiming | None = None
    worsening: StrictBool = False
    flags: tuple[RedFlag, ...] = ()
    location: PainLocation | None = None
    run_id: str | None = Field(default=None, min_length=1, max_length=128)
    distance_m: float | None = Field(default=None, ge=0, **Number)


class SampleBatch(_Model):
    """What the bridge hands to Kafka: one MQTT message's valid samples, keyed by runner."""

    runner: str
    received_ms: int
    samples: tuple[CountedSample, ...]


class PainEvent(_Model):
    """A validated pain report with its runner, as carried on Kafka."""

    runner: str
    received_ms: int
    report: PainReport


class DeadLetter(_Model):
    """A rejected MQTT payload with the reason (CONTRACT.md, "Bad input")."""

    topic: str
    reason: str
    received_at: str
    payload: str
    payload_b64: str | None = None


Severity = Literal["info", "warning", "critical"]


class Alert(_Model):
    """Published on `alerts/{team}/{runner}` (QoS 1, not retained)."""

    id: str
    runner: str
    team: str
    ts: str
    rule: str
    severity: Severity
    action: str
    message: str
    details: dict[str, bool | int | float | str | None]


class LastRun(_Model):
    run_id: str
    end: str
    km: float
    cadence_spm: float | None


class Status(_Model):
    """Published retained on `status/{runner}`."""

    runner: str
    team: str
    as_of: str
    live: bool = False
    week_km: float
    prev_week_km: float
    change_pct: float | None
    acwr: float | None
    acwr_ewma: float | None = None
    budget_km: float | None
    gate: str
    gate_since: str | None = None  # when the report that set the gate was made
    cadence_baseline_spm: float | None
    rtr_phase: str | None = None  # return-to-run phase ("1", "3", "4", "5", "complete")
    last_run: LastRun | None
