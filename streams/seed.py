"""Rebuild a runner's state from the `run` points the stream wrote: the durable record.

Kafka's changelog is not relied on: the local broker keeps topics in memory only and reports
end offsets short, and Kafka offsets are committed only once the store has a batch's points,
so the store plus the uncommitted tail of the topic always hold every sample.
"""

from __future__ import annotations

import asyncio
import json
import logging

import httpx

from footpod.timeseries import V1Api, V2Api
from streams.segments import Segment
from streams.state import HISTORY_DAYS, RunnerState

log = logging.getLogger("footpod.stream")


async def seed_state(api: V1Api | V2Api, runner: str) -> RunnerState | None:
    """The runner's stored segments; None when the store cannot answer InfluxQL (seeding off)."""
    query = (f'SELECT "device", "segments", "retired_km" FROM "run" WHERE "runner" = \'{runner}\' '
             f"AND time > now() - {HISTORY_DAYS}d")  # what `prune` keeps; older runs live on in retired_km
    delay = 0.5
    while True:
        try:
            rows = await api.query(query)
            break
        except httpx.HTTPStatusError as error:
            if error.response.status_code < 500:
                log.warning("the store does not answer InfluxQL (%s): state is not seeded", error)
                return None
        except (httpx.HTTPError, RuntimeError) as error:
            log.warning("cannot read %s's runs from the store (%s); retrying", runner, error)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 10.0)
    return state_from_rows(runner, rows)


def state_from_rows(runner: str, rows: list[dict]) -> RunnerState:
    """Segments of every stored run; an older version of a run is contained in its newer one."""
    by_device: dict[str, list[Segment]] = {}
    for row in rows:
        if not isinstance(row.get("segments"), str):
            continue
        segments = [Segment.model_validate(item) for item in json.loads(row["segments"])]
        by_device.setdefault(row["device"], []).extend(segments)
    devices = {device: _outermost(segments) for device, segments in by_device.items()}
    starts = [segment.start_ms for segments in devices.values() for segment in segments]
    retired: dict[str, float] = {}
    for row in rows:
        if isinstance(row.get("retired_km"), (int, float)):
            retired[row["device"]] = max(retired.get(row["device"], 0.0), float(row["retired_km"]))
    return RunnerState(runner=runner, first_seen_ms=min(starts) if starts else None, devices=devices,
                       retired_km=retired)


def _outermost(segments: list[Segment]) -> tuple[Segment, ...]:
    kept: list[Segment] = []
    for segment in sorted(segments, key=lambda s: (s.start_ms, -s.end_ms)):
        if kept and segment.end_ms <= kept[-1].end_ms:
            continue
        kept.append(segment)
    return tuple(kept)
