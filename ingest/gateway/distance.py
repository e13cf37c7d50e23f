"""A pod's cumulative distance, from its total distance or from speed × time (pure).

The sample's `distance_m` is the gateway's own odometer for the pod: it only grows. A pod with
total distance adds the steps between readings; a total that falls (a pod reset, the u32 counter
wrapping) or jumps faster than a runner can move (a Set Cumulative Value through the SC Control
Point) adds nothing and becomes the new baseline, as RULES.md §1 handles resets and glitches. A pod
without total distance adds speed × time between readings, over gaps of at most `max_gap_s`: after a
longer silence (the pod out of range, the gateway down) nothing is guessed.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

GLITCH_MPS = 12.0  # RULES.md §1 (ours): a step faster than this is a glitch; Settings.glitch_mps overrides
MAX_GAP_S = 5.0  # ours: speed × time is integrated over gaps up to this long, not across dropouts
RELEASE_SHARE = 0.9  # ours: published steps stay under this share of the glitch speed (see `release`)


class Odometer(BaseModel):
    """What the tracker remembers of one pod between readings (kept on disk with the outbox)."""

    model_config = ConfigDict(frozen=True)

    distance_m: float = 0.0
    last_total_m: float | None = None
    last_ts_ms: int | None = None  # when the last reading arrived
    published_m: float = 0.0  # the distance the last sample carried
    published_ts_ms: int | None = None  # that sample's time


Event = Literal["start", "reset", "jump", "gap", "stale"]


class Reading(NamedTuple):
    odometer: Odometer
    added_m: float
    event: Event | None  # why nothing was added, when that is not an ordinary step


def advance(
    odometer: Odometer,
    ts_ms: int,
    speed_mps: float,
    total_m: float | None,
    *,
    glitch_mps: float = GLITCH_MPS,
    max_gap_s: float = MAX_GAP_S,
) -> Reading:
    """The odometer after one reading at `ts_ms`; a reading not after the last one changes nothing."""
    last_ts = odometer.last_ts_ms
    if last_ts is not None and ts_ms <= last_ts:
        return Reading(odometer, 0.0, "stale")
    dt_s = None if last_ts is None else (ts_ms - last_ts) / 1000
    added, event = 0.0, None
    if total_m is not None:
        if odometer.last_total_m is None:
            event = "start"
        elif total_m < odometer.last_total_m:
            event = "reset"
        elif dt_s is None or total_m - odometer.last_total_m > glitch_mps * dt_s:
            event = "jump"
        else:
            added = total_m - odometer.last_total_m
    elif dt_s is None:
        event = "start"
    elif dt_s > max_gap_s:
        event = "gap"
    else:
        added = min(speed_mps, glitch_mps) * dt_s
    updated = odometer.model_copy(
        update={"distance_m": odometer.distance_m + added, "last_total_m": total_m, "last_ts_ms": ts_ms}
    )
    return Reading(updated, added, event)


def release(odometer: Odometer, sample_ts_ms: int, *, glitch_mps: float = GLITCH_MPS) -> Odometer:
    """The distance a sample at `sample_ts_ms` carries: the odometer's, but never a step the stream
    would take for a glitch.

    Readings step by when notifications arrived; samples are 1 Hz ticks. A notification that comes
    late (a busy radio, a burst) can put several seconds of distance into one tick, which the
    stream would drop as faster than 12 m/s (RULES.md §1). So a sample's step is held under
    `RELEASE_SHARE` × `glitch_mps` × the time since the last sample, and the rest follows with the
    next samples: the same total, never a glitch.
    """
    if odometer.published_ts_ms is None:
        published = odometer.distance_m
    elif sample_ts_ms <= odometer.published_ts_ms:
        return odometer
    else:
        room = RELEASE_SHARE * glitch_mps * (sample_ts_ms - odometer.published_ts_ms) / 1000
        published = min(odometer.distance_m, odometer.published_m + room)
    return odometer.model_copy(
        update={"published_m": max(published, odometer.published_m), "published_ts_ms": sample_ts_ms}
    )
