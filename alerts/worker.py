"""The alert worker: runner updates in, alerts and retained status out over MQTT.

Alerts are published once per id: ids already published are remembered, and read back from
the store's `alert` points the first time a runner is seen after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import faust
import httpx
import paho.mqtt.client as mqtt

from footpod import kafka
from footpod.contract import Alert, Status
from footpod.records import RunnerUpdate
from footpod.settings import Settings
from footpod.timeseries import Writer, open_api
from alerts.decide import alerts_for, status_of
from alerts.points import alert_point, load_point
from ingest.bridge import mqtt_client
from streams.app import create_app

log = logging.getLogger("footpod.alerts")
MAX_UNACKED_PUBLISHES = 10_000  # paho loses QoS 1 messages past 65,535 in flight
SEEN_ALERT_DAYS = 80


class Publisher:
    """QoS 1 publishing with a bound on messages the broker has not acknowledged yet."""

    def __init__(self, client: mqtt.Client):
        self.client = client
        self._outstanding = threading.Semaphore(MAX_UNACKED_PUBLISHES)
        client.on_publish = lambda *args: self._outstanding.release()

    async def publish(self, topic: str, payload: str, retain: bool = False) -> None:
        while not self._outstanding.acquire(blocking=False):
            await asyncio.sleep(0.01)
        self.client.publish(topic, payload, qos=1, retain=retain)


class AlertWorker:
    def __init__(self, app: faust.App, settings: Settings):
        self.app, self.settings = app, settings
        self.published: dict[str, set[str]] = {}
        self.last_live_status: dict[str, float] = {}
        self.alerts_published = 0
        self.writer: Writer | None = None
        self.api = None
        self.publisher: Publisher | None = None
        self.updates_topic = app.topic(kafka.UPDATES, key_type=bytes, value_type=bytes)

    def register(self) -> None:
        self.app.agent(self.updates_topic, name="updates")(self.consume)
        self.app.task(self.start_io)

    async def start_io(self) -> None:
        client = mqtt_client(self.settings, f"footpod-alerts-{int(time.time())}")
        connected = threading.Event()
        client.on_connect = lambda *args: connected.set()
        endpoint = self.settings.mqtt
        client.connect_async(endpoint.host, endpoint.port, keepalive=30)
        client.loop_start()
        while not connected.is_set():
            await asyncio.sleep(0.05)
        self.publisher = Publisher(client)
        self.api = await open_api(self.settings, httpx.AsyncClient(timeout=30))
        self.writer = Writer(self.api)
        await self.writer.run()

    async def consume(self, stream) -> None:
        async for value in stream:
            while self.writer is None or self.publisher is None:
                await asyncio.sleep(0.05)
            await self.handle(RunnerUpdate.model_validate_json(value))

    async def handle(self, update: RunnerUpdate) -> None:
        gate = "progress"  # the pain gate (RULES.md §3) sets this once pain reports are read
        lines = []
        for alert in alerts_for(update, gate):
            if await self._first_time(alert):
                await self.publisher.publish(f"alerts/{alert.team}/{alert.runner}", alert.model_dump_json())
                lines.append(alert_point(alert))
                self.alerts_published += 1
        for evaluation in update.touched:
            if not evaluation.live:
                lines.append(load_point(update.runner, update.team, evaluation, gate))
        status = status_of(update, gate)
        if self._status_due(status):
            await self.publisher.publish(f"status/{update.runner}", status.model_dump_json(), retain=True)
        self.writer.write(lines)

    def _status_due(self, status: Status) -> bool:
        """After every run; while one is under way, every 10 s."""
        if not status.live:
            self.last_live_status.pop(status.runner, None)
            return True
        now = time.monotonic()
        if now - self.last_live_status.get(status.runner, -1e9) >= self.settings.live_status_interval_s:
            self.last_live_status[status.runner] = now
            return True
        return False

    async def _first_time(self, alert: Alert) -> bool:
        seen = self.published.get(alert.runner)
        if seen is None:
            seen = self.published[alert.runner] = await self._stored_ids(alert.runner)
        if alert.id in seen:
            return False
        seen.add(alert.id)
        return True

    async def _stored_ids(self, runner: str) -> set[str]:
        try:
            rows = await self.api.query(f'SELECT "id" FROM "alert" WHERE "runner" = \'{runner}\' '
                                        f"AND time > now() - {SEEN_ALERT_DAYS}d")
        except (httpx.HTTPError, RuntimeError) as error:
            log.warning("cannot read %s's past alerts (%s): relying on this run's memory", runner, error)
            return set()
        return {row["id"] for row in rows if isinstance(row.get("id"), str)}


def create_worker(settings: Settings) -> AlertWorker:
    worker = AlertWorker(create_app(settings, app_id="footpod-alerts"), settings)
    worker.register()
    return worker
