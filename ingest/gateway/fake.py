"""Simulated footpods behind the `Radio` seam: real RSC Measurement bytes, no radio needed.

A pod's motion is a function of (simulated) time alone, so a gateway that restarts finds each pod
where a real one would be. Pods differ as real ones do: with or without total distance and
stride length, counting one foot (the spec) or both, a total that resets, a total rewritten
upwards (Set Cumulative Value), and links that drop now and then.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass

from ingest.gateway.ble import Advert, OnValue
from ingest.gateway.clock import Clock
from ingest.gateway.rsc import encode

SPEED_SWING_MPS, SPEED_PERIOD_S = 0.3, 120.0
CADENCE_SWING_SPM, CADENCE_PERIOD_S = 3.0, 90.0


@dataclass(frozen=True)
class FakePod:
    """One simulated pod; `epoch_ms` is when its run (and its total distance) started."""

    address: str
    epoch_ms: int
    speed_mps: float = 3.0
    cadence_spm: float = 172.0  # both feet
    counts: str = "per_foot"  # what the pod sends: the sensor foot's steps (spec) or both feet
    total_distance: bool = True
    stride_length: bool = False
    reset_every_s: float | None = None  # the pod's total falls back to 0
    jump_at_s: float | None = None  # the total is rewritten 10 km upwards once
    drop_every_s: float | None = None  # the link drops, and can be connected again
    phase: float = 0.0
    rssi: int = -60
    interval_s: float = 1.0  # seconds between notifications

    def _t(self, now_ms: int) -> float:
        return max(now_ms - self.epoch_ms, 0) / 1000

    def speed_at(self, now_ms: int) -> float:
        return self.speed_mps + SPEED_SWING_MPS * math.sin(2 * math.pi * self._t(now_ms) / SPEED_PERIOD_S + self.phase)

    def distance_at(self, now_ms: int) -> float:
        """The distance covered since `epoch_ms`: the integral of `speed_at`."""
        t, w = self._t(now_ms), 2 * math.pi / SPEED_PERIOD_S
        return self.speed_mps * t + SPEED_SWING_MPS / w * (math.cos(self.phase) - math.cos(w * t + self.phase))

    def cadence_at(self, now_ms: int) -> float:
        t = self._t(now_ms)
        return self.cadence_spm + CADENCE_SWING_SPM * math.sin(2 * math.pi * t / CADENCE_PERIOD_S + self.phase)

    def total_at(self, now_ms: int) -> float:
        total = self.distance_at(now_ms)
        t = self._t(now_ms)
        if self.reset_every_s:
            total -= self.distance_at(self.epoch_ms + round(t // self.reset_every_s * self.reset_every_s * 1000))
        if self.jump_at_s is not None and t >= self.jump_at_s:
            total += 10_000.0
        return total

    def value_at(self, now_ms: int) -> bytes:
        """The RSC Measurement the pod sends at `now_ms`."""
        cadence = self.cadence_at(now_ms)
        speed = self.speed_at(now_ms)
        return encode(
            speed,
            round(cadence / 2 if self.counts == "per_foot" else cadence),
            running=True,
            stride_length_m=speed / (cadence / 60) if self.stride_length else None,
            total_distance_m=self.total_at(now_ms) if self.total_distance else None,
        )


def simulated_pods(count: int, epoch_ms: int) -> list[FakePod]:
    """`count` pods of four kinds, in turn: total distance with stride (per foot); speed only
    (per foot); total that resets every 7 minutes (both feet); total rewritten at 5 minutes (both feet).
    Addresses are F0:0D:00:00:00:NN."""
    pods = []
    for i in range(count):
        kind = i % 4
        pods.append(
            FakePod(
                address=f"F0:0D:00:00:{i // 256:02X}:{i % 256:02X}",
                epoch_ms=epoch_ms,
                speed_mps=2.6 + (i % 7) * 0.15,
                cadence_spm=164 + (i % 9) * 2.0,
                counts="per_foot" if kind < 2 else "both_feet",
                total_distance=kind != 1,
                stride_length=kind == 0,
                reset_every_s=420.0 if kind == 2 else None,
                jump_at_s=300.0 if kind == 3 else None,
                phase=i * 0.7,
                rssi=-55 - (i % 30),
                interval_s=1.0,
            )
        )
    return pods


class FakeRadio:
    """The `Radio` seam over simulated pods, on the gateway's clock."""

    def __init__(self, pods: list[FakePod], clock: Clock):
        self.pods = {pod.address: pod for pod in pods}
        self.clock = clock
        self.connects: dict[str, int] = {address: 0 for address in self.pods}

    async def scan(self, timeout_s: float) -> list[Advert]:
        await self.clock.sleep(min(timeout_s, 1.0))
        return [Advert(pod.address, f"SIM {pod.address[-5:]}", pod.rssi) for pod in self.pods.values()]

    def link(self, address: str, on_lost: Callable[[], None]) -> FakeLink:
        return FakeLink(self, address, on_lost)


class FakeLink:
    """A link to one simulated pod: notifications every `interval_s` of the clock until it drops."""

    def __init__(self, radio: FakeRadio, address: str, on_lost: Callable[[], None]):
        self.radio, self.address, self.on_lost = radio, address, on_lost
        self._task: asyncio.Task | None = None

    async def connect(self) -> None:
        pod = self.radio.pods.get(self.address)
        if pod is None:
            raise ConnectionError(f"no pod at {self.address}")
        await self.radio.clock.sleep(0.2)
        self.radio.connects[self.address] += 1

    async def subscribe(self, on_value: OnValue) -> None:
        self._task = asyncio.get_running_loop().create_task(self._notify(on_value))

    async def _notify(self, on_value: OnValue) -> None:
        pod, clock = self.radio.pods[self.address], self.radio.clock
        connected_at = clock.now_ms()
        while True:
            now = clock.now_ms()
            if pod.drop_every_s and now - connected_at >= pod.drop_every_s * 1000:
                self.on_lost()
                return
            on_value(pod.value_at(now))
            await clock.sleep(pod.interval_s)

    async def disconnect(self) -> None:
        if self._task is not None:
            self._task.cancel()
