"""The gateway's time: the wall clock, or a faster one for simulations and tests."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...

    async def sleep(self, seconds: float) -> None: ...


class WallClock:
    """Epoch milliseconds from the system clock; sleeps are real."""

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


class ScaledClock:
    """A clock running `speedup` times faster than the wall clock from `origin_sim_ms` at `origin_wall_ms`.

    It never runs ahead of the wall clock (the bridge rejects samples from the future): once it
    catches up it goes on at wall speed. Sleeps are shortened by the same factor while it is behind.
    """

    def __init__(
        self, origin_wall_ms: int, origin_sim_ms: int, speedup: float, wall_ms=lambda: int(time.time() * 1000)
    ):
        self.origin_wall_ms, self.origin_sim_ms, self.speedup = origin_wall_ms, origin_sim_ms, speedup
        self._wall_ms = wall_ms

    def _scaled(self, wall: int) -> int:
        return self.origin_sim_ms + round((wall - self.origin_wall_ms) * self.speedup)

    def now_ms(self) -> int:
        wall = self._wall_ms()
        return min(self._scaled(wall), wall)

    async def sleep(self, seconds: float) -> None:
        wall = self._wall_ms()
        factor = self.speedup if self._scaled(wall) < wall else 1.0
        await asyncio.sleep(max(seconds, 0.0) / factor)
