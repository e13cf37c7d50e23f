"""What the stream and alert workers share: a Faust app, the roster, the store opened once,
readiness as an event, a progress line a minute, `/healthz` (`health`) and the consumer-lag
gauges (footpod/metrics.py). Stages subclass `StageWorker` and add
their agents in `register`; their bodies call pure functions and only move data.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import httpx

from footpod import metrics
from footpod.kafka import ALL_TOPICS
from footpod.roster import RosterFile
from footpod.settings import Settings
from footpod.timeseries import V1Api, V2Api, Writer, open_api

if TYPE_CHECKING:
    import faust

PROGRESS_EVERY_S = 60.0
LAG_EVERY_S = 1.0  # cheap: offsets the consumer already holds


class StageWorker:
    """A Faust worker with the store's writer; `ready` is set once every connection is open."""

    log = logging.getLogger("footpod")
    stage = "worker"  # the `stage` label of its metrics and its default metrics port

    def __init__(self, app: faust.App, settings: Settings):
        self.app, self.settings = app, settings
        self.roster = RosterFile(settings.roster)
        self.api: V1Api | V2Api | None = None
        self.writer: Writer | None = None
        self.ready = asyncio.Event()

    def register(self) -> None:
        """Start the I/O with the app; subclasses register their agents and timers, then call this."""
        self.app.task(self._start_io)
        self.app.timer(PROGRESS_EVERY_S)(self._report_progress)
        self.app.timer(LAG_EVERY_S)(self.measure_lag)

    async def open_connections(self) -> None:
        """Connections a stage needs besides the store (e.g. MQTT); ready when this returns."""

    async def on_store_open(self) -> None:
        """Work a stage does once the store answers, before it says it is ready."""

    def progress(self) -> str:
        """One line saying how far the worker has got."""
        return ""

    def connection_problem(self) -> str | None:
        """What a stage's own connections (e.g. MQTT) lack now; None when they are up."""
        return None

    def health(self) -> tuple[bool, str]:
        """(ready, reason) for `/healthz`: the store and the stage's connections open, and the
        store taking writes."""
        if not self.ready.is_set():
            return False, "starting: opening the store and the stage's connections"
        problem = self.connection_problem()
        if problem:
            return False, problem
        if self.writer is not None and self.writer.unavailable is not None:
            return False, f"time-series store unavailable: {self.writer.unavailable}"
        return True, "connected to Kafka and the store"

    async def measure_lag(self) -> None:
        """Consumer lag per assigned partition: the partition's end offset minus the offset
        committed for this stage's group (what a restart would read again)."""
        try:
            consumer = self.app.consumer
            assigned = consumer.assignment()
        except Exception:  # the consumer is not started yet
            return
        for tp in assigned:
            if tp.topic not in ALL_TOPICS:  # Faust's own (the assignor's leader topic)
                continue
            committed = consumer._committed_offset.get(tp)  # Faust keeps no public accessor
            try:
                end = consumer.highwater(tp)
            except Exception:  # no fetch yet on this partition
                end = None
            if committed is not None and end is not None:
                metrics.CONSUMER_LAG.labels(self.stage, tp.topic, str(tp.partition)).set(max(0, end - committed))

    async def until_ready(self) -> None:
        await self.ready.wait()

    async def _start_io(self) -> None:
        await self.open_connections()
        self.api = await self._open_store()
        self.writer = Writer(self.api, stage=self.stage)
        await self.on_store_open()
        self.ready.set()
        await self.writer.run()

    async def _open_store(self) -> V1Api | V2Api:
        """The store's API once it answers: a worker started while the store is down waits for it."""
        client, delay = httpx.AsyncClient(timeout=30), 0.5
        while True:
            try:
                return await open_api(self.settings, client)
            except httpx.HTTPError as error:
                self.log.warning("the time-series store does not answer (%s); retrying in %.1f s", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _report_progress(self) -> None:
        backlog = self.writer.backlog if self.writer else 0
        refused = self.writer.rejected_points if self.writer else 0
        self.log.info("%s, %d points waiting for the store, %d refused", self.progress(), backlog, refused)
