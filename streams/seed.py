"""Rebuild a runner's state from the `run` points the stream wrote: the durable record.

Kafka's changelog is not relied on: the local broker keeps topics in memory only and reports
end offsets short, and Kafka offsets are committed only once the store has a batch's points,
so the store plus the uncommitted tail of the topic always hold every sample.

Every run of the runner is read, whatever its age (RULES.md §7: history of any age counts, and a
window is relative to the runner's own data, never to now()); a run judged whole is one segment,
so this stays small (a year of daily runs is a few hundred rows).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import httpx

from footpod import schema
from footpod.timeseries import V1Api, V2Api
from streams.segments import Segment
from streams.state import RunnerState

log = logging.getLogger("footpod.stream")


class SeedUnavailable(Exception):
    """The store cannot answer now: the runner's samples wait, the other runners go on."""


async def seed_state(api: V1Api | V2Api, runner: str) -> RunnerState | None:
    """The runner's stored segments; None when the store cannot answer InfluxQL (seeding off).
    Raises `SeedUnavailable` when the store is down: one attempt, the caller decides when to retry."""
    states = await seed_states(api, [runner])
    return None if states is None else states[runner]


async def seed_states(api: V1Api | V2Api, runners: Sequence[str]) -> dict[str, RunnerState] | None:
    """`seed_state` of each of `runners`, read `schema.READ_BACK_CHUNK` runners a query: a sync of a
    whole team seeded one runner a query spent a quarter of the stream's time waiting for the store.
    None when the store cannot answer InfluxQL; `SeedUnavailable` when it does not answer a query."""
    wanted = list(dict.fromkeys(runners))
    rows_of: dict[str, list[dict]] = {runner: [] for runner in wanted}
    try:
        for start in range(0, len(wanted), schema.READ_BACK_CHUNK):
            for row in await api.query(schema.run_segments_of_query(wanted[start : start + schema.READ_BACK_CHUNK])):
                rows = rows_of.get(row.get("runner"))
                if rows is not None:
                    rows.append(row)
    except httpx.HTTPStatusError as error:
        if error.response.status_code < 500:
            log.warning("the store does not answer InfluxQL (%s): state is not seeded", error)
            return None
        raise SeedUnavailable(str(error)) from error
    except (httpx.HTTPError, RuntimeError) as error:
        raise SeedUnavailable(str(error)) from error
    return {runner: state_from_rows(runner, rows) for runner, rows in rows_of.items()}


async def runners_with_open_runs(api: V1Api | V2Api) -> list[str]:
    """Runners whose stored runs were not judged whole yet (the stream stopped before): the
    stream seeds them at start so their runs are concluded even if none of their samples comes."""
    try:
        rows = await api.query(schema.open_runs_query())
    except (httpx.HTTPError, RuntimeError) as error:
        log.warning("cannot list runs left open (%s): they are concluded when their runner sends again", error)
        return []
    return sorted({row["runner"] for row in rows if isinstance(row.get("runner"), str)})


def state_from_rows(runner: str, rows: list[dict]) -> RunnerState:
    """Segments of every stored run; an older version of a run is contained in its newer one."""
    by_device: dict[str, list[Segment]] = {}
    for row in rows:
        if not isinstance(row.get("segments"), str):
            continue
        segments = [Segment.model_validate(item) for item in json.loads(row["segments"])]
        by_device.setdefault(row["device"], []).extend(segments)
    devices = {device: _outermost(segments) for device, segments in by_device.items() if segments}
    starts = [segment.start_ms for segments in devices.values() for segment in segments]
    return RunnerState(runner=runner, first_seen_ms=min(starts) if starts else None, devices=devices)


def _outermost(segments: list[Segment]) -> tuple[Segment, ...]:
    kept: list[Segment] = []
    for segment in sorted(segments, key=lambda s: (s.start_ms, -s.end_ms)):
        if kept and segment.end_ms <= kept[-1].end_ms:
            continue
        kept.append(segment)
    return tuple(kept)
