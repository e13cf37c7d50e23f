"""FIT activity files to runs of contract samples: pure, bytes in, decoded runs or a reason out.

Decoded with `fitdecode` (README, "Importing a season", says why). The whole file is decoded and
checked before anything is returned, so a corrupt, truncated or half-valid file gives a reason and
no runs at all. Per running session (CONTRACT.md, "Importing and gateways"):

- `cadence_spm` = 2 x (FIT `cadence` + `fractional_cadence`): FIT counts strides (one foot) per
  minute. An invalid cadence (0xFF, read as None) becomes 0 spm, as the expected decodes write it,
  never 510; the stream leaves readings under the running floor out of a run's cadence.
- `run_id` = `fit:{serial}:{time_created}` (time_created in Unix seconds), so the same file
  imported twice is one run; `device_id` = the footpod's serial when a device_info names a
  stride_speed_distance (footpod) device, else the recording device's.
- Records without a distance are left out (also those before the first distance): a sample states
  a distance reading, and carrying the last one forward would invent a standstill whose step then
  lands on the next real reading, where the stream's glitch filter may drop it.
- Timestamps below 0x10000000 are relative (seconds since the device powered on); they are tied
  to the calendar by a timestamp_correlation message, else by the activity message's
  local_timestamp (wall-clock time: the device stores no zone, so the time is read as UTC).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

import fitdecode
from pydantic import BaseModel, ConfigDict, ValidationError

from footpod.contract import EARLIEST_MS, Sample, iso

RELATIVE_LIMIT = 0x10000000  # FIT profile: date_time values below this are seconds since power-on
FIT_EPOCH_S = 631_065_600  # 1989-12-31T00:00:00Z, second 0 of FIT time
MAX_SPEED_MPS = 12.0  # CONTRACT.md Sample.speed_mps upper bound; a faster reading is left out
MAX_CADENCE_SPM = 260.0  # CONTRACT.md Sample.cadence_spm upper bound; a higher one is invalid
RUNNING = "running"
FOOTPOD_TYPES = {124, "stride_speed_distance", "footpod"}  # ANT+ device type 124; BLE footpod


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class DecodedRun(_Frozen):
    """One running session of a file, as contract samples ready to publish."""

    run_id: str
    device_id: str
    sport: str
    start_ms: int
    end_ms: int
    session_distance_m: float | None
    samples: tuple[Sample, ...]
    records_without_distance: int = 0
    invalid_cadence: int = 0

    @property
    def distance_m(self) -> float:
        """Metres the samples cover: the sum of their forward distance steps."""
        return distance_covered(self.samples)


class SkippedSession(_Frozen):
    """A session that is not imported, with why."""

    sport: str
    reason: str


class FileResult(_Frozen):
    """What one file gives: runs to publish and skipped sessions, or a reason it was rejected."""

    name: str
    outcome: Literal["imported", "skipped", "rejected"]
    runs: tuple[DecodedRun, ...] = ()
    skipped: tuple[SkippedSession, ...] = ()
    reason: str | None = None


class FitRejected(ValueError):
    """The file cannot be trusted: nothing of it may be counted."""


def distance_covered(samples: Iterable[Sample]) -> float:
    total, previous = 0.0, None
    for sample in samples:
        if previous is not None and sample.distance_m > previous:
            total += sample.distance_m - previous
        previous = sample.distance_m
    return total


def decode_fit(data: bytes, name: str = "", not_after_ms: int | None = None) -> FileResult:
    """Decode one FIT file (chained files included) into its running sessions. A sample later
    than `not_after_ms` (the bridge's limit for the future) rejects the file: the bridge would
    drop those samples and count the rest, half a run."""
    try:
        parts = read_parts(data)
        runs, skipped = _runs(parts)
        if not_after_ms is not None:
            for run in runs:
                if run.end_ms > not_after_ms:
                    raise FitRejected(
                        f"run {run.run_id} ends at {iso(run.end_ms)}, in the future: the device clock is wrong"
                    )
    except FitRejected as error:
        return FileResult(name=name, outcome="rejected", reason=str(error))
    if runs:
        return FileResult(name=name, outcome="imported", runs=tuple(runs), skipped=tuple(skipped))
    reason = "; ".join(s.reason for s in skipped) or "no session: the file holds no activity"
    return FileResult(name=name, outcome="skipped", skipped=tuple(skipped), reason=reason)


class _Part:
    """The messages of one FIT file of a chain, as field dictionaries."""

    def __init__(self) -> None:
        self.file_ids: list[dict] = []
        self.sessions: list[dict] = []
        self.records: list[dict] = []
        self.devices: list[dict] = []
        self.correlations: list[dict] = []
        self.activities: list[dict] = []


_KEPT = {
    "file_id": "file_ids",
    "session": "sessions",
    "record": "records",
    "device_info": "devices",
    "timestamp_correlation": "correlations",
    "activity": "activities",
}


def read_parts(data: bytes) -> list[_Part]:
    """Every message of every chained file, CRCs checked; any decoding error rejects the file."""
    if not data:
        raise FitRejected("empty file")
    parts: list[_Part] = []
    try:
        with fitdecode.FitReader(
            io.BytesIO(data), check_crc=fitdecode.CrcCheck.ENABLED, error_handling=fitdecode.ErrorHandling.RAISE
        ) as reader:
            for frame in reader:
                if isinstance(frame, fitdecode.FitHeader):
                    parts.append(_Part())
                elif isinstance(frame, fitdecode.FitDataMessage) and frame.name in _KEPT and parts:
                    fields = {field.name: field.value for field in frame.fields}
                    getattr(parts[-1], _KEPT[frame.name]).append(fields)
    except fitdecode.FitCRCError as error:
        raise FitRejected(f"corrupt: {error}") from error
    except fitdecode.FitEOFError as error:
        raise FitRejected(f"truncated: {error}") from error
    except fitdecode.FitHeaderError as error:
        where = f" (file {len(parts) + 1} of a chain)" if parts else ""
        raise FitRejected(f"not a valid FIT header{where}: {error}") from error
    except fitdecode.FitError as error:
        raise FitRejected(f"malformed: {error}") from error
    except Exception as error:  # any other failure of the decoder on these bytes
        # (struct.error, AssertionError … seen on damaged files) says the same: not a valid file
        raise FitRejected(f"malformed: the decoder failed ({type(error).__name__}: {error})") from error
    if not parts:
        raise FitRejected("not a FIT file")
    return parts


def _runs(parts: list[_Part]) -> tuple[list[DecodedRun], list[SkippedSession]]:
    first_file_id = next((f for part in parts for f in part.file_ids), {})
    runs: list[DecodedRun] = []
    skipped: list[SkippedSession] = []
    for part in parts:
        file_id = part.file_ids[0] if part.file_ids else first_file_id
        kind = file_id.get("type")
        if kind is not None and kind != "activity":
            skipped.append(SkippedSession(sport="-", reason=f"not an activity file (type {kind})"))
            continue
        if not part.sessions:
            continue
        clock = _clock(part)
        several = sum(1 for s in part.sessions if s.get("sport") == RUNNING) > 1
        number = 0
        for session in part.sessions:
            sport = str(session.get("sport") or "unknown")
            if sport != RUNNING:
                skipped.append(SkippedSession(sport=sport, reason=f"{sport} session: not running"))
                continue
            number += 1
            suffix = f":{number}" if several else ""
            run = _decode_run(part, session, file_id, clock, suffix)
            if isinstance(run, SkippedSession):
                skipped.append(run)
            else:
                runs.append(run)
    if not runs and not skipped and not any(part.sessions for part in parts):
        skipped.append(SkippedSession(sport="-", reason="no session: the file does not say what sport it is"))
    return runs, skipped


class _Clock:
    """Turns FIT time values (datetimes, or relative seconds) into Unix seconds."""

    def __init__(self, offset_s: float | None):
        self.offset_s = offset_s

    def seconds(self, value: Any) -> float | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            if value >= RELATIVE_LIMIT:
                return FIT_EPOCH_S + float(value)
            if self.offset_s is None:
                raise FitRejected(
                    "relative timestamps (seconds since the device powered on) and nothing "
                    "in the file ties them to a date"
                )
            return self.offset_s + float(value)
        raise FitRejected(f"a timestamp of unexpected type {type(value).__name__}")


def _clock(part: _Part) -> _Clock:
    """The offset from relative to Unix seconds, when the file gives one."""
    for correlation in part.correlations:
        utc, system = correlation.get("timestamp"), correlation.get("system_timestamp")
        if isinstance(utc, datetime) and isinstance(system, (int, float)):
            return _Clock(utc.timestamp() - float(system))
    for activity in part.activities:
        local, stamp = activity.get("local_timestamp"), activity.get("timestamp")
        if isinstance(local, datetime) and isinstance(stamp, (int, float)) and stamp < RELATIVE_LIMIT:
            wall = local.replace(tzinfo=UTC).timestamp()  # local wall clock read as UTC
            return _Clock(wall - float(stamp))
    return _Clock(None)


def _decode_run(part: _Part, session: dict, file_id: dict, clock: _Clock, suffix: str) -> DecodedRun | SkippedSession:
    start = clock.seconds(session.get("start_time"))
    end = clock.seconds(session.get("timestamp"))
    if start is None:
        raise FitRejected("a running session without a start time")
    if end is None and session.get("total_elapsed_time") is not None:
        end = start + float(session["total_elapsed_time"])
    serial = _serial(file_id)
    created = clock.seconds(file_id.get("time_created"))
    run_id = f"fit:{serial}:{int(created if created is not None else start)}{suffix}"
    device_id = _footpod_serial(part.devices) or serial
    rows = []
    for record in part.records:
        ts = clock.seconds(record.get("timestamp"))
        if ts is None or ts < start or (end is not None and ts > end):
            continue
        rows.append((ts, record))
    rows.sort(key=lambda row: row[0])
    samples: list[Sample] = []
    seen: set[int] = set()
    without_distance = invalid_cadence = 0
    for ts, record in rows:
        distance = record.get("distance")
        if distance is None:
            without_distance += 1
            continue
        ms = int(round(ts * 1000))
        if ms in seen:
            continue  # one reading per instant, the first, as the stream keeps it
        seen.add(ms)
        cadence = _cadence_spm(record)
        if cadence is None:
            invalid_cadence += 1
        speed = _speed(record)
        try:
            samples.append(
                Sample(
                    ts=ms,
                    device_id=device_id,
                    cadence_spm=cadence or 0.0,
                    distance_m=float(distance),
                    speed_mps=speed,
                    run_id=run_id,
                )
            )
        except ValidationError as error:
            if ms < EARLIEST_MS:
                raise FitRejected(f"a record at {ms} ms: before 2000, the device clock was not set") from error
            raise FitRejected(
                f"a record at {ms} ms does not make a valid sample: {error.errors()[0]['msg']}"
            ) from error
    total = session.get("total_distance")
    if not samples:
        why = "no distance in any record" if total is None else "no record with a distance"
        return SkippedSession(sport=RUNNING, reason=f"running session with {why}: nothing to count")
    return DecodedRun(
        run_id=run_id,
        device_id=device_id,
        sport=RUNNING,
        start_ms=samples[0].ts,
        end_ms=samples[-1].ts,
        session_distance_m=None if total is None else float(total),
        samples=tuple(samples),
        records_without_distance=without_distance,
        invalid_cadence=invalid_cadence,
    )


def _cadence_spm(record: dict) -> float | None:
    """Steps per minute from FIT strides per minute; None when the reading is invalid."""
    strides = record.get("cadence")
    if not isinstance(strides, (int, float)):
        return None
    fraction = record.get("fractional_cadence")
    spm = 2 * (strides + (fraction if isinstance(fraction, (int, float)) else 0.0))
    return spm if 0 <= spm <= MAX_CADENCE_SPM else None


def _speed(record: dict) -> float | None:
    speed = record.get("enhanced_speed")
    if not isinstance(speed, (int, float)):
        speed = record.get("speed")
    if not isinstance(speed, (int, float)) or not 0 <= speed <= MAX_SPEED_MPS:
        return None
    return float(speed)


def _serial(file_id: dict) -> str:
    """The recording device's serial; maker and product when the file gives none."""
    serial = file_id.get("serial_number")
    if isinstance(serial, int) and serial > 0:
        return str(serial)
    maker = file_id.get("manufacturer") or "unknown"
    product = file_id.get("garmin_product") or file_id.get("product") or "device"
    return _clean(f"{maker}-{product}")


def _footpod_serial(devices: list[dict]) -> str | None:
    for device in devices:
        kinds = {device.get("device_type"), device.get("antplus_device_type"), device.get("ble_device_type")}
        serial = device.get("serial_number")
        if kinds & FOOTPOD_TYPES and isinstance(serial, int) and serial > 0:
            return str(serial)
    return None


def _clean(text: str) -> str:
    return "".join(c if c.isalnum() or c in "_.:-" else "-" for c in text)[:64]
