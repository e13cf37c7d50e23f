"""What the stream and alert workers share: a Faust app, the roster, the store opened once,
readiness as an event, and a progress line a minute. Stages subclass `StageWorker` and add
their agents in `register`; their bodies call pure functions and only move data.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import httpx

from footpod.roster import RosterFile
from footpod.settings import Settings
from footpod.timeseries import V1Api, V2Api, Writer, open_api

if TYPE_CHECKING:
    import faust

PROGRESS_EVERY_S = 60.0


class StageWorker:
    """A Faust worker with the store's writer; `ready` is set once every connection is open."""

    log = logging.getLogger("footpod")

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

    async def open_connections(self) -> None:
        """Connections a stage needs besides the store (e.g. MQTT); ready when this returns."""

    async def on_store_open(self) -> None:
        """Work a stage does once the store answers, before it says it is ready."""

    def progress(self) -> str:
        """One line saying how far the worker has got."""
        return ""

    async def until_ready(self) -> None:
        await self.ready.wait()

    async def _start_io(self) -> None:
        await self.open_connections()
        self.api = await self._open_store()
        self.writer = Writer(self.api)
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
