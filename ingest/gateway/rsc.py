"""RSC Measurement (characteristic 0x2A53 of the Running Speed and Cadence service 0x1814).

Layout (little-endian, Bluetooth SIG RSCS v1.0): flags u8 (bit 0 stride length present, bit 1
total distance present, bit 2 running), speed u16 in 1/256 m/s, cadence u8 in 1/min,
[stride length u16 in cm], [total distance u32 in dm]. Pure: bytes in, a measurement or an
`RscError` that says why out.
"""

from __future__ import annotations

import struct

from pydantic import BaseModel, ConfigDict

from footpod.errors import FootpodError

RSC_SERVICE_UUID = "00001814-0000-1000-8000-00805f9b34fb"
RSC_MEASUREMENT_UUID = "00002a53-0000-1000-8000-00805f9b34fb"

STRIDE_PRESENT, DISTANCE_PRESENT, RUNNING = 0x01, 0x02, 0x04
_HEAD = struct.Struct("<BHB")  # flags, speed, cadence
_STRIDE = struct.Struct("<H")
_DISTANCE = struct.Struct("<I")
MIN_LENGTH = _HEAD.size


class RscError(FootpodError, ValueError):
    """A byte string that is not an RSC Measurement; the message is the reason."""


class RscMeasurement(BaseModel):
    """One decoded notification, in SI units; cadence as the pod sent it (see README, cadence unit)."""

    model_config = ConfigDict(frozen=True)

    flags: int
    running: bool
    speed_mps: float
    cadence_per_min: int
    stride_length_m: float | None = None
    total_distance_m: float | None = None


def expected_length(flags: int) -> int:
    """How many bytes the flags announce."""
    return (
        MIN_LENGTH
        + (_STRIDE.size if flags & STRIDE_PRESENT else 0)
        + (_DISTANCE.size if flags & DISTANCE_PRESENT else 0)
    )


def decode(data: bytes | bytearray) -> RscMeasurement:
    """Parse one notification; a value shorter or longer than its flags announce is an `RscError`.

    A truncated value is rejected, not read with the missing field left out: decoders disagree
    there (Nordic rejects, others return None), and a guess would be a silent distance error.
    Reserved flag bits (3-7) are ignored, as the spec asks of receivers.
    """
    data = bytes(data)
    if len(data) < MIN_LENGTH:
        raise RscError(f"RSC Measurement needs at least {MIN_LENGTH} bytes, got {len(data)}")
    flags, speed, cadence = _HEAD.unpack_from(data)
    wanted = expected_length(flags)
    if len(data) != wanted:
        raise RscError(f"flags 0x{flags:02x} announce {wanted} bytes, {len(data)} received")
    offset = MIN_LENGTH
    stride = total = None
    if flags & STRIDE_PRESENT:
        (stride_cm,) = _STRIDE.unpack_from(data, offset)
        stride, offset = stride_cm / 100, offset + _STRIDE.size
    if flags & DISTANCE_PRESENT:
        (total_dm,) = _DISTANCE.unpack_from(data, offset)
        total = total_dm / 10
    return RscMeasurement(
        flags=flags,
        running=bool(flags & RUNNING),
        speed_mps=speed / 256,
        cadence_per_min=cadence,
        stride_length_m=stride,
        total_distance_m=total,
    )


def encode(
    speed_mps: float,
    cadence_per_min: int,
    *,
    running: bool = True,
    stride_length_m: float | None = None,
    total_distance_m: float | None = None,
) -> bytes:
    """The bytes a pod would send for these values (rounded to the field units); for simulated pods."""
    flags = (
        (RUNNING if running else 0)
        | (STRIDE_PRESENT if stride_length_m is not None else 0)
        | (DISTANCE_PRESENT if total_distance_m is not None else 0)
    )
    data = _HEAD.pack(flags, _clamp(round(speed_mps * 256), 0xFFFF), _clamp(round(cadence_per_min), 0xFF))
    if stride_length_m is not None:
        data += _STRIDE.pack(_clamp(round(stride_length_m * 100), 0xFFFF))
    if total_distance_m is not None:
        data += _DISTANCE.pack(round(total_distance_m * 10) % 2**32)  # the pod's counter wraps
    return data


def _clamp(value: int, top: int) -> int:
    return min(max(value, 0), top)
