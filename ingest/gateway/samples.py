"""From one RSC Measurement to one contract sample (pure): cadence units, odometer, sequence."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from footpod.roster import Roster
from ingest.gateway.distance import GLITCH_MPS, advance, release
from ingest.gateway.queue import PodState
from ingest.gateway.rsc import RscMeasurement

CadenceUnit = Literal["per_foot", "both_feet"]
SPEC_UNIT: CadenceUnit = "per_foot"  # RSCS: ground contacts per minute of the foot carrying the sensor
MAX_SPM = 260.0  # CONTRACT.md: cadence_spm 0-260
MAX_SPEED_MPS = 12.0  # CONTRACT.md: speed_mps 0-12
RUNNING_SPM = (130.0, 240.0)  # ours: the cadence (both feet) of someone running
RUNNING_MPS = 2.0  # ours: a pod this fast is running even if it does not set the running flag
BLE_ADDRESS = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")


@dataclass(frozen=True)
class PodConfig:
    """A pod the gateway reads: its BLE address, the runner wearing it, how it counts cadence."""

    address: str
    runner: str
    cadence: CadenceUnit = SPEC_UNIT


def pods_from_roster(roster: Roster) -> dict[str, PodConfig]:
    """Every BLE address in the runners' `devices` (FIT serials are for `import`), upper case."""
    pods = {}
    for runner, entry in roster.runners.items():
        for device, options in entry.devices.items():
            if BLE_ADDRESS.match(device):
                pods[device.upper()] = PodConfig(device.upper(), runner, options.cadence or SPEC_UNIT)
    return pods


def is_running(measurement: RscMeasurement) -> bool:
    return measurement.running or measurement.speed_mps >= RUNNING_MPS


def cadence_spm(raw: int, unit: CadenceUnit, running: bool) -> tuple[float, str | None]:
    """Steps per minute of both feet, and a warning when a running pod's value fits the other unit.

    The roster's unit is applied; but a value that would leave the contract's range (over 260 spm
    from a per-foot pod) can only be steps of both feet, and is published as such, with the warning.
    """
    spm = raw * 2.0 if unit == "per_foot" else float(raw)
    other = float(raw) if unit == "per_foot" else raw * 2.0
    low, high = RUNNING_SPM
    misfit = running and not low <= spm <= high and low <= other <= high
    warning = None
    if misfit:
        other_unit = "both_feet" if unit == "per_foot" else "per_foot"
        warning = (
            f"reports {raw}/min while running: {spm:.0f} spm as {unit}, {other:.0f} spm as {other_unit}; "
            f"set `cadence: {other_unit}` for this pod in the roster"
        )
    if spm > MAX_SPM:
        spm = other
    return spm, warning


@dataclass(frozen=True)
class Built:
    sample: dict
    state: PodState
    event: str | None  # the odometer's: start, reset, jump, gap, stale
    warning: str | None


def build_sample(
    pod: PodConfig,
    measurement: RscMeasurement,
    ts_ms: int,
    state: PodState,
    glitch_mps: float = GLITCH_MPS,
    measured_ms: int | None = None,
) -> Built:
    """The sample for `ts_ms` (CONTRACT.md, footpod/{runner}/samples) and the pod's next state.

    The odometer steps by when the measurement arrived (`measured_ms`), not by the 1 Hz tick: a
    notification that comes late then carries its distance without looking like a jump, and the
    same measurement used twice adds nothing. The sample carries the odometer's released distance
    (`distance.release`): never a step the stream would drop as a glitch.
    """
    odometer, _, event = advance(
        state.odometer,
        measured_ms if measured_ms is not None else ts_ms,
        measurement.speed_mps,
        measurement.total_distance_m,
        glitch_mps=glitch_mps,
    )
    odometer = release(odometer, ts_ms, glitch_mps=glitch_mps)
    spm, warning = cadence_spm(measurement.cadence_per_min, pod.cadence, is_running(measurement))
    sample = {
        "ts": ts_ms,
        "device_id": pod.address,
        "cadence_spm": spm,
        "distance_m": round(odometer.published_m, 2),
        "seq": state.next_seq,
    }
    if measurement.speed_mps <= MAX_SPEED_MPS:
        sample["speed_mps"] = round(measurement.speed_mps, 3)
    return Built(sample, PodState(state.next_seq + 1, odometer), event, warning)
