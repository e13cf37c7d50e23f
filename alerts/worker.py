"""The alert worker: runner updates and pain reports in; alerts and retained status out over MQTT.

What it knows of each runner (recent runs, pain reports) is rebuilt from the store's `run` and
`pain` points the first time the runner is seen after a start; alerts already published are read
back from the `alert` points, so a restart never publishes an alert twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time

import faust
import httpx
import paho.mqtt.client as mqtt

from footpod import kafka
from footpod.contract import Alert, PainEvent, PainReport, Status
from footpod.records import RunnerUpdate, RunSummary
from footpod.roster import RosterFile
from footpod.settings import Settings
from footpod.timeseries import Writer, open_api
from alerts.decide import RunnerFacts, alerts_for, load_now, pain_decisions, status_of, to_alerts
from alerts.points import alert_point, load_point, pain_point
from alerts.rules.pain_gate import decision_of, run_of, timing_of
from footpod.mqtt import mqtt_client
from streams.app import create_app
from streams.load import DAY_MS

log = logging.getLogger("footpod.alerts")
MAX_UNACKED_PUBLISHES = 10_000  # paho loses QoS 1 messages past 65,535 in flight
LOOK_BACK_DAYS = 80  # alerts, runs and reports read back at a restart
PAIN_GRACE_S = 2.0  # a step of the stream takes well under a second


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


class Memory:
    """One runner as the worker knows it."""

    def __init__(self, runs: tuple[RunSummary, ...], reports: list[PainReport], published: set[str]):
        self.runs = runs
        self.reports = reports
        self.published = published
        self.last_update: RunnerUpdate | None = None
        self.last_live_status = -1e9
        self.held_status: Status | None = None


class AlertWorker:
    def __init__(self, app: faust.App, settings: Settings):
        self.app, self.settings = app, settings
        self.roster = RosterFile(settings.roster)
        self.memory: dict[str, Memory] = {}
        self.alerts_published = 0
        self.writer: Writer | None = None
        self.api = None
        self.publisher: Publisher | None = None
        self._lock = asyncio.Lock()
        self._day: int | None = None
        self.updates_topic = app.topic(kafka.UPDATES, key_type=bytes, value_type=bytes)
        self.pain_topic = app.topic(kafka.PAIN, key_type=bytes, value_type=bytes)

    def register(self) -> None:
        self.app.agent(self.updates_topic, name="updates")(self.consume_updates)
        self.app.agent(self.pain_topic, name="pain")(self.consume_pain)
        self.app.task(self.start_io)
        self.app.timer(60.0)(self.write_daily_load)
        self.app.timer(60.0)(self.report_progress)
        self.app.timer(1.0)(self.publish_held_statuses)

    async def start_io(self) -> None:
        client = mqtt_client(self.settings, f"footpod-alerts-{int(time.time() * 1000)}")
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

    async def _io_ready(self) -> None:
        while self.writer is None or self.publisher is None:
            await asyncio.sleep(0.05)

    async def consume_updates(self, stream) -> None:
        async for value in stream:
            await self._io_ready()
            async with self._lock:
                await self.on_update(RunnerUpdate.model_validate_json(value))

    async def consume_pain(self, stream) -> None:
        async for value in stream:
            await self._io_ready()
            event = PainEvent.model_validate_json(value)
            # a phone often syncs a run and reports pain straight after: the run comes the longer
            # way (through the stream), so give it a moment to arrive before matching the report
            wait_s = event.received_ms / 1000 + PAIN_GRACE_S - time.time()
            if wait_s > 0:
                await asyncio.sleep(wait_s)
            async with self._lock:
                await self.on_pain(event)

    def facts(self, runner: str, memory: Memory) -> RunnerFacts:
        entry = self.roster.current.entry(runner)
        return RunnerFacts(runner=runner, team=entry.team, entry=entry, runs=memory.runs,
                           reports=tuple(memory.reports))

    async def on_update(self, update: RunnerUpdate) -> None:
        memory = await self._memory_of(update.runner)
        memory.runs = _merge_runs(memory.runs, update.recent)
        memory.last_update = update
        facts = self.facts(update.runner, memory)
        lines = [load_point(update.runner, update.team, e.load, facts.gate(e.load.as_of_ms).action)
                 for e in update.touched if not e.live]
        published = await self._publish_alerts(alerts_for(update, facts), memory, lines)
        await self._offer_status(status_of(update, facts), memory, urgent=published > 0)
        self.writer.write(lines)

    async def on_pain(self, event: PainEvent) -> None:
        runner, report = event.runner, event.report
        memory = await self._memory_of(runner)
        if report in memory.reports:
            return  # a redelivery: already counted
        memory.reports.append(report)
        facts = self.facts(runner, memory)
        run = run_of(report, facts.runs)
        timing = timing_of(report, run)
        lines = [pain_point(runner, facts.team, report, timing, decision_of(report, timing),
                            run.run_id if run else None)]
        await self._publish_alerts(to_alerts(pain_decisions(facts, report.ts), runner, facts.team), memory, lines)
        if memory.last_update is not None:
            status = status_of(memory.last_update, facts)
            await self.publisher.publish(f"status/{runner}", status.model_dump_json(), retain=True)
        self.writer.write(lines)

    async def report_progress(self) -> None:
        log.info("%d alerts published, %d runners in memory, %d points waiting for the store",
                 self.alerts_published, len(self.memory), self.writer.backlog if self.writer else 0)

    async def write_daily_load(self) -> None:
        """At each UTC midnight, every runner's load then: the series moves on rest days too."""
        today = int(time.time() * 1000) // DAY_MS
        if self._day is None or today == self._day or self.writer is None:
            self._day = today
            return
        self._day = today
        lines = []
        async with self._lock:
            for runner, memory in self.memory.items():
                if memory.last_update is not None:
                    facts = self.facts(runner, memory)
                    load = load_now(memory.last_update, facts, today * DAY_MS)
                    lines.append(load_point(runner, facts.team, load, facts.gate(load.as_of_ms).action))
        self.writer.write(lines)

    async def _publish_alerts(self, alerts: list[Alert], memory: Memory, lines: list[str]) -> int:
        """Publish the alerts not published before; return how many were new."""
        before = self.alerts_published
        for alert in alerts:
            if alert.id in memory.published:
                continue
            memory.published.add(alert.id)
            await self.publisher.publish(f"alerts/{alert.team}/{alert.runner}", alert.model_dump_json())
            lines.append(alert_point(alert))
            self.alerts_published += 1
        return self.alerts_published - before

    async def _offer_status(self, status: Status, memory: Memory, urgent: bool = False) -> None:
        """After every run, and with every new alert, at once; while a run is under way, every 10 s,
        the latest status held back until its turn comes (`publish_held_statuses`)."""
        now = time.monotonic()
        if status.live and not urgent and now - memory.last_live_status < self.settings.live_status_interval_s:
            memory.held_status = status
            return
        memory.held_status = None
        memory.last_live_status = now if status.live else -1e9
        await self.publisher.publish(f"status/{status.runner}", status.model_dump_json(), retain=True)

    async def publish_held_statuses(self) -> None:
        now = time.monotonic()
        async with self._lock:
            for memory in self.memory.values():
                held = memory.held_status
                if held is not None and now - memory.last_live_status >= self.settings.live_status_interval_s:
                    await self._offer_status(held, memory)

    async def _memory_of(self, runner: str) -> Memory:
        memory = self.memory.get(runner)
        if memory is None:
            published, runs, reports = await asyncio.gather(
                self._stored_alert_ids(runner), self._stored_runs(runner), self._stored_reports(runner))
            memory = self.memory[runner] = Memory(runs, reports, published)
        return memory

    async def _query(self, runner: str, influxql: str) -> list[dict]:
        try:
            return await self.api.query(influxql)
        except (httpx.HTTPError, RuntimeError) as error:
            log.warning("cannot read %s's history from the store (%s): starting from what arrives", runner, error)
            return []

    async def _stored_alert_ids(self, runner: str) -> set[str]:
        rows = await self._query(runner, f'SELECT "id" FROM "alert" WHERE "runner" = \'{runner}\' '
                                         f"AND time > now() - {LOOK_BACK_DAYS}d")
        return {row["id"] for row in rows if isinstance(row.get("id"), str)}

    async def _stored_runs(self, runner: str) -> tuple[RunSummary, ...]:
        rows = await self._query(runner, f'SELECT "device", "run_id", "end_ms", "km", "samples", "cadence_spm", '
                                         f'"duplicate_of" '
                                         f'FROM "run" WHERE "runner" = \'{runner}\' AND time > now() - {LOOK_BACK_DAYS}d')
        runs = {}
        for row in rows:
            if row.get("duplicate_of"):  # stream: another source's run, or a start moved earlier (counts once)
                continue
            if isinstance(row.get("run_id"), str) and isinstance(row.get("end_ms"), (int, float)):
                runs[row["run_id"]] = RunSummary(
                    run_id=row["run_id"], device_id=row["device"], start_ms=int(row["time"]),
                    end_ms=int(row["end_ms"]), km=float(row.get("km") or 0.0), samples=int(row.get("samples") or 0),
                    cadence_spm=row.get("cadence_spm"))
        return tuple(sorted(runs.values(), key=lambda run: run.end_ms))

    async def _stored_reports(self, runner: str) -> list[PainReport]:
        rows = await self._query(runner, f'SELECT * FROM "pain" WHERE "runner" = \'{runner}\' '
                                         f"AND time > now() - {LOOK_BACK_DAYS}d")
        reports = []
        for row in rows:
            stored = json.loads(row["report"]) if isinstance(row.get("report"), str) else None
            if stored is not None:
                reports.append(PainReport.model_validate(stored))
        return reports


def _merge_runs(known: tuple[RunSummary, ...], recent: tuple[RunSummary, ...]) -> tuple[RunSummary, ...]:
    """The stream's view of its recent weeks replaces ours; older runs we knew stay."""
    if not recent:
        return known
    floor = min(run.end_ms for run in recent)
    return tuple(sorted((*(run for run in known if run.end_ms < floor), *recent), key=lambda run: run.end_ms))


def create_worker(settings: Settings) -> AlertWorker:
    worker = AlertWorker(create_app(settings, app_id="footpod-alerts"), settings)
    worker.register()
    return worker
