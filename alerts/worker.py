"""The alert worker: runner updates and pain reports in; alerts and retained status out over MQTT.

What it knows of each runner (recent runs, pain reports) is read back from the store's `run` and
`pain` points the first time the runner is seen after a start; alerts already published are read
back from the `alert` points, so a restart never publishes an alert twice. Runners first seen together
(a batch of updates, the runners known at start) are read back together, a few queries per hundred
runners, and a runner is read once however many first sights of it come at the same time. A
read-back the store cannot answer is retried, never taken as an empty history. The decisions are `alerts.decide`'s,
the publishing pace `alerts.pacing`'s; this module only moves data.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import sys
import threading
import time
from collections.abc import Iterable, Sequence

import faust
import msgspec
import paho.mqtt.client as mqtt

from alerts.daily import refresh_known_runners
from alerts.decide import RunnerFacts, alerts_for, pain_decisions, rule_params, status_of, to_alerts
from alerts.history import daily_load_lines, is_pushed, reaches_past_midnights
from alerts.notify import Notifier
from alerts.pacing import AT_REST
from alerts.points import alert_point, load_point, pain_point
from alerts.rules.pain_gate import decision_of, run_of, settle_at, timing_of
from footpod import kafka, metrics, schema
from footpod.contract import Alert, PainEvent, PainReport
from footpod.errors import StoreReadError
from footpod.mqtt import mqtt_client
from footpod.records import RunnerUpdate, RunSummary, built, unpack_updates
from footpod.settings import Settings
from footpod.worker import StageWorker

log = logging.getLogger("footpod.alerts")
MAX_UNACKED_PUBLISHES = 10_000  # paho loses QoS 1 messages past 65,535 in flight
LOOK_BACK_DAYS = 80  # alerts, runs and reports read back at a restart
READ_BACK_MAX_DELAY_S = 10.0
READ_BACK_CONCURRENCY = 4  # chunks of runners (schema.READ_BACK_CHUNK each) read back at once
UPDATES_BATCH_MAX = 500  # records of updates taken from Kafka at once: their unseen runners are read back together
UPDATES_WITHIN_S = 0.05  # how long a batch waits to fill: added to a live status's delay at most

History = tuple[set[str], tuple[RunSummary, ...], list[PainReport]]
"""A runner as the store knows it: its published alert ids, recent runs and pain reports."""


class Publisher:
    """QoS 1 publishing with a bound on messages the broker has not acknowledged yet."""

    def __init__(self, client: mqtt.Client, loop: asyncio.AbstractEventLoop):
        self.client = client
        self._outstanding = asyncio.Semaphore(MAX_UNACKED_PUBLISHES)
        client.on_publish = lambda *args: loop.call_soon_threadsafe(self._outstanding.release)

    async def publish(self, topic: str, payload: str, retain: bool = False) -> None:
        await self._outstanding.acquire()
        self.client.publish(topic, payload, qos=1, retain=retain)


_RUN = struct.Struct("<qqdqd?I")  # start_ms, end_ms, km, samples, cadence_spm (0.0 when None), has cadence, device
_END = struct.Struct("<q")  # a packed run's end_ms, 8 bytes in


class CompactRuns(msgspec.Struct, frozen=True, gc=False):
    """A runner's runs as the worker keeps them between events, by end: each run's numbers packed in
    45 bytes (`_RUN`), its device an index into `devices`, and its run id kept only when it is not
    the one a run of a device without run ids is named by (`device@start`, `streams.runs.summarise`):
    about 50 bytes a run, where a tuple of its fields took 300 and a `RunSummary` 1.5 KB (README "Speed")."""

    packed: bytes
    devices: tuple[str, ...]
    run_ids: dict[int, str] | None  # the run's index -> its run id, where it is not `device@start`


NO_RUNS = CompactRuns(b"", (), None)


def compact(runs: Iterable[RunSummary]) -> CompactRuns:
    devices: dict[str, int] = {}
    run_ids: dict[int, str] = {}
    packed = bytearray()
    for index, r in enumerate(runs):
        device = devices.setdefault(r.device_id, len(devices))
        if r.run_id != f"{r.device_id}@{r.start_ms}":
            run_ids[index] = r.run_id
        packed += _packed(r, device)
    if not packed:
        return NO_RUNS
    return CompactRuns(bytes(packed), tuple(map(sys.intern, devices)), run_ids or None)


def _packed(run: RunSummary, device: int) -> bytes:
    cadence = run.cadence_spm
    return _RUN.pack(
        run.start_ms, run.end_ms, run.km, run.samples, 0.0 if cadence is None else cadence, cadence is not None, device
    )


def expand(runs: CompactRuns, before_ms: int | None = None, first: int = 0) -> tuple[RunSummary, ...]:
    """The runs kept, as `RunSummary`s; only those that end before `before_ms` when it is given, and
    from the `first` on. Each made as `model_construct` makes it (its values have their fields' types:
    they were a run's), without validating them again: a delta's update expands every run of the runner."""
    expanded = []
    run_ids = runs.run_ids or {}
    devices = runs.devices
    size = _RUN.size
    for index, (start, end, km, samples, cadence, has_cadence, device) in enumerate(
        _RUN.iter_unpack(memoryview(runs.packed)[first * size :]), first
    ):
        if before_ms is not None and end >= before_ms:
            continue
        device_id = devices[device]
        run = _new(RunSummary)
        _set(
            run,
            "__dict__",
            {
                "run_id": run_ids[index] if index in run_ids else f"{device_id}@{start}",
                "device_id": device_id,
                "start_ms": start,
                "end_ms": end,
                "km": km,
                "samples": samples,
                "cadence_spm": cadence if has_cadence else None,
            },
        )
        _set(run, "__pydantic_fields_set__", _EVERY_RUN_FIELD)
        _set(run, "__pydantic_extra__", None)
        _set(run, "__pydantic_private__", None)
        expanded.append(run)
    return tuple(expanded)


def expand_after(runs: CompactRuns, kept: tuple[CompactRuns, tuple[RunSummary, ...]] | None) -> tuple[RunSummary, ...]:
    """`expand(runs)`, taking the runs of `kept` (runs and their expansion, from an earlier update) as
    they are where `runs` begins as they did: a live run's update changes its latest run or two, and
    expanding every run of the runner at every sample was a quarter of the alert worker's time."""
    if kept is None:
        return expand(runs)
    old, old_runs = kept
    size = _RUN.size
    same = min(len(old.packed), len(runs.packed)) // size
    if old.devices != runs.devices[: len(old.devices)]:
        same = 0
    while same and old.packed[: same * size] != runs.packed[: same * size]:
        same -= 1  # a delta patches the end: a step or two back at most, as a rule
    if same and old.run_ids != runs.run_ids:
        old_ids, new_ids = old.run_ids or {}, runs.run_ids or {}
        while same and any(old_ids.get(i) != new_ids.get(i) for i in {*old_ids, *new_ids} if i < same):
            same -= 1
    if not same:
        return expand(runs)
    return old_runs[:same] + expand(runs, first=same)


# every field set, one set for every run expanded: a frozen model never adds to it, and a copy of one
# (`model_copy`) copies it first; a set a run saves a fifth of `expand`'s time
_EVERY_RUN_FIELD = set(RunSummary.model_fields)
_new, _set = object.__new__, object.__setattr__


def merge_delta(known: CompactRuns, changed: Iterable[RunSummary]) -> CompactRuns:
    """`known` (by end) with each run of `changed` in place of the run of the same device and start,
    or inserted where its end goes (`RunnerUpdate.recent_kind` "delta"): the packed bytes patched,
    not every run expanded and packed again. A run changed by a delta only grew, so the version
    known ends after it starts: it is looked for from the latest run back to there."""
    packed, devices = bytearray(known.packed), list(known.devices)
    run_ids = dict(known.run_ids or {})
    size = _RUN.size
    for run in changed:
        if run.device_id in devices:
            device = devices.index(run.device_id)
        else:
            device = len(devices)
            devices.append(sys.intern(run.device_id))
        count = len(packed) // size
        for index in range(count - 1, -1, -1):
            start, end, *_, of_device = _RUN.unpack_from(packed, index * size)
            if end < run.start_ms:
                break
            if start == run.start_ms and of_device == device:
                del packed[index * size : (index + 1) * size]
                run_ids = {i - (i > index): run_id for i, run_id in run_ids.items() if i != index}
                count -= 1
                break
        lo, hi = 0, count  # after every run that ends no later
        while lo < hi:
            mid = (lo + hi) // 2
            if _END.unpack_from(packed, mid * size + 8)[0] <= run.end_ms:
                lo = mid + 1
            else:
                hi = mid
        packed[lo * size : lo * size] = _packed(run, device)
        run_ids = {i + (i >= lo): run_id for i, run_id in run_ids.items()}
        if run.run_id != f"{run.device_id}@{run.start_ms}":
            run_ids[lo] = run.run_id
    if not packed:
        return NO_RUNS
    return CompactRuns(bytes(packed), tuple(devices), run_ids or None)


_encode_latest = msgspec.json.Encoder(enc_hook=lambda model: model.__dict__).encode
"""An update's fields as JSON, its records (pydantic models) as their fields: what `model_dump_json` gives
of them, without going through pydantic."""


def _latest_of(update: RunnerUpdate) -> str:
    """What `status_of` reads of an update (its runner, team and `latest`), as JSON: a few hundred
    bytes where the models take 4 KB, and read back as an update (`RunnerUpdate.model_validate_json`).
    Kept as a `str`, of its very size (the encoder's `bytes` keeps the room it was written in)."""
    fields = {"runner": update.runner, "team": update.team, "touched": (), "latest": update.latest}
    return _encode_latest(fields).decode()


def _latest_only(update: RunnerUpdate) -> RunnerUpdate:
    """What `_latest_of` reads back as, without writing and reading JSON: the update's runner, team and
    `latest`, its other fields their defaults (`built`: every value has its type already)."""
    fields = {"runner": update.runner, "team": update.team, "touched": (), "latest": update.latest}
    return built(RunnerUpdate, {**_UPDATE_DEFAULTS, **fields})


_UPDATE_DEFAULTS = {name: field.default for name, field in RunnerUpdate.model_fields.items() if not field.is_required()}


class Memory:
    """One runner as the worker knows it. Its runs are kept compact (`CompactRuns`) and of its latest
    update only what its status reads, as JSON once its run is over (`_latest_of`): 10 weeks of runs
    take 2 KB, not 40 (README "Speed")."""

    __slots__ = (
        "compact_runs",
        "reports",
        "published",
        "_latest",
        "pace",
        "last_arrival_ms",
        "pending",
        "pending_records",
        "_expanded",
    )  # no `__dict__` per runner

    def __init__(self, runs: Sequence[RunSummary], reports: list[PainReport], published: set[str]):
        self.compact_runs = compact(runs)  # by end
        self.reports = reports
        self.published = published
        # `_latest_of`: a few hundred bytes where the models take 4 KB; while a run is under way, the
        # update itself without its `recent` runs and `touched` evaluations: a live update a second and a
        # status read back every 10 s made encoding it 7 % of the worker's time at 2,000 live runners
        self._latest: str | RunnerUpdate | None = None
        self.pace = AT_REST
        self.last_arrival_ms: int | None = None  # when the latest update or report of this runner arrived
        self.pending: list[PainEvent] = []  # reports waiting for the runner's data to settle
        self.pending_records: list = []  # their Kafka records, acknowledged once they are decided
        # while a run is under way: the runs expanded at the latest update, with the compact runs they
        # expand (`expand_after`); dropped once the runner's latest update is not live (about 22 KB a
        # runner under way with 10 weeks of history, none a runner at rest)
        self._expanded: tuple[CompactRuns, tuple[RunSummary, ...]] | None = None

    def take(self, update: RunnerUpdate) -> tuple[tuple[RunSummary, ...], CompactRuns]:
        """Take in an update of the runner: its recent runs merged into the runs kept (a window replacing
        the runs known to end in it, a delta run by run), and the update kept without them. Returns the
        runs now known, and those known before (compact)."""
        known = self.compact_runs
        if update.recent_kind == "delta":
            self.compact_runs = merge_delta(known, update.recent)
            runs = expand_after(self.compact_runs, self._expanded)
        else:
            runs = _merge_runs(known, update.recent, update.recent_after_ms)
            self.compact_runs = compact(runs)
        if update.latest.live:  # its status reads it again within 10 s: kept as it is, not as JSON
            self._expanded = (self.compact_runs, runs)
            self._latest = _latest_only(update)
        else:
            self._expanded = None
            self._latest = _latest_of(update)
        return runs, known

    def runs(self) -> tuple[RunSummary, ...]:
        """The runs kept, expanded (`expand_after`: as they were at the latest update, when kept)."""
        return expand_after(self.compact_runs, self._expanded)

    @property
    def last_update(self) -> RunnerUpdate | None:
        """The latest update taken in, without its `recent` runs (kept above) and `touched` evaluations:
        `status_of` reads its runner, team and `latest` only."""
        latest = self._latest
        return RunnerUpdate.model_validate_json(latest) if isinstance(latest, str) else latest

    @property
    def updated(self) -> bool:
        """Whether an update of the runner has been taken in (without reading it)."""
        return self._latest is not None


class AlertWorker(StageWorker):
    log = log
    stage = "alerts"

    def __init__(self, app: faust.App, settings: Settings):
        super().__init__(app, settings)
        self.params = rule_params(settings)
        self.memory: dict[str, Memory] = {}
        self.alerts_published = 0
        self.alerts_stored_only = 0  # history: stored, not pushed (RULES.md §7)
        self.publisher: Publisher | None = None
        self._lock = asyncio.Lock()
        self._settling: set[asyncio.Future] = set()
        self._histories: dict[str, asyncio.Future[History]] = {}  # read back, or being read; not in memory yet
        self._read_limit = asyncio.Semaphore(READ_BACK_CONCURRENCY)
        self.notifier = Notifier(settings, self.roster)  # notifications: alerts/notify.py
        self.updates_topic = app.topic(kafka.UPDATES, key_type=bytes, value_type=bytes)
        self.pain_topic = app.topic(kafka.PAIN, key_type=bytes, value_type=bytes)
        self._live_delay = metrics.LIVE_DELAY.labels(self.stage)

    def register(self) -> None:
        self.app.agent(self.updates_topic, name="updates")(self.consume_updates)
        self.app.agent(self.pain_topic, name="pain")(self.consume_pain)
        self.app.task(self.notifier.run)
        self.app.task(self.refresh_statuses)
        self.app.timer(1.0)(self.publish_held_statuses)
        self.app.timer(60.0)(self.publish_lifted_gates)
        super().register()

    async def open_connections(self) -> None:
        client = mqtt_client(self.settings, f"footpod-alerts-{int(time.time() * 1000)}")
        connected = threading.Event()
        client.on_connect = lambda *args: connected.set()
        endpoint = self.settings.mqtt
        client.connect_async(endpoint.host, endpoint.port, keepalive=30)
        client.loop_start()
        await asyncio.to_thread(connected.wait)
        self.publisher = Publisher(client, asyncio.get_running_loop())

    def connection_problem(self) -> str | None:
        if self.publisher is None or not self.publisher.client.is_connected():
            return "MQTT broker not connected"
        return None

    def progress(self) -> str:
        return (
            f"{self.alerts_published} alerts published, {self.alerts_stored_only} stored only (history), "
            f"{len(self.memory)} runners in memory"
        )

    async def consume_updates(self, stream) -> None:
        async for records in stream.take_events(UPDATES_BATCH_MAX, within=UPDATES_WITHIN_S):
            await self.until_ready()
            unpacked: list[list[RunnerUpdate]] = []
            for record in records:
                # --- acknowledged once stored (FAULTS.md row 6): a Kafka record of updates is acknowledged,
                # and its offset committed, only once the store has the points all its updates caused
                record.message.incref()
                unpacked.append(unpack_updates(record.value))  # the stream packs a step's updates per partition
            await self._read_histories(update.runner for updates in unpacked for update in updates)
            for record, updates in zip(records, unpacked, strict=True):
                stored = []
                for update in updates:
                    async with self._lock:
                        stored.append(await self.on_update(update))
                _ack_when_stored([record], *stored)
                metrics.observe_live(  # a live run's latest sample, decided on
                    self._live_delay, int(time.time() * 1000), (u.latest.run.end_ms for u in updates if u.latest.live)
                )

    async def consume_pain(self, stream) -> None:
        async for record in stream.events():
            await self.until_ready()
            event = PainEvent.model_validate_json(record.value)
            await self._read_histories([event.runner])  # outside the lock: known runners go on meanwhile
            # --- settle rule (RULES.md §3 arrival order): a runner's reports wait together, without
            # holding up the stream, until its data has settled; then they are decided at once
            async with self._lock:
                memory = await self._memory_of(event.runner)
                memory.pending.append(event)
                memory.pending_records.append(record)
                record.message.incref()  # acknowledged once decided, not when this loop moves on
                memory.last_arrival_ms = max(memory.last_arrival_ms or 0, event.received_ms)
            task = asyncio.ensure_future(self._decide_when_settled(event.runner))
            self._settling.add(task)  # a reference, so the task is not collected while it waits
            task.add_done_callback(self._settling.discard)

    async def _decide_when_settled(self, runner: str) -> None:
        memory = self.memory[runner]
        while memory.pending:
            due = settle_at(
                min(e.received_ms for e in memory.pending),
                memory.last_arrival_ms,
                self.params.pain_settle_s,
                self.params.pain_settle_max_s,
            )
            wait_ms = due - int(time.time() * 1000)
            if wait_ms <= 0:
                break
            await asyncio.sleep(wait_ms / 1000)
        async with self._lock:
            events, memory.pending = memory.pending, []
            records, memory.pending_records = memory.pending_records, []
            stored = await self.on_pain(*events) if events else None
            _ack_when_stored(records, stored)  # decided, and the store has the lines
            # --- end of settle rule

    def facts(self, runner: str, memory: Memory, runs: tuple[RunSummary, ...] | None = None) -> RunnerFacts:
        """The runner's facts; `runs` when the caller holds them already (else read from `memory`)."""
        entry = self.roster.current.entry(runner)
        return RunnerFacts(
            runner=runner,
            team=entry.team,
            entry=entry,
            runs=memory.runs() if runs is None else runs,
            reports=tuple(memory.reports),
            params=self.params,
        )

    async def on_update(self, update: RunnerUpdate) -> asyncio.Future:
        memory = await self._memory_of(update.runner)
        runs, known = memory.take(update)
        memory.last_arrival_ms = int(time.time() * 1000)
        facts = self.facts(update.runner, memory, runs)
        lines = [
            load_point(update.runner, update.team, e.load, facts.gate(e.load.as_of_ms).action)
            for e in update.touched
            if not e.live
        ]
        if reaches_past_midnights(update, memory.last_arrival_ms):  # history: the midnights its runs change
            lines += daily_load_lines(facts, expand(known), memory.last_arrival_ms)
        published = await self._publish_alerts(alerts_for(update, facts), memory, lines)
        await self._offer_status(update, facts, memory, urgent=published > 0)
        return self.writer.write(lines)  # done once the store has them

    async def on_pain(self, *events: PainEvent) -> asyncio.Future | None:
        """Reports of one runner, decided together against everything known of the runner; the
        store's future for their points (None when every report was a redelivery)."""
        runner = events[0].runner
        memory = await self._memory_of(runner)
        new = [e.report for e in events if e.report not in memory.reports]  # a redelivery: already counted
        if not new:
            return None
        memory.reports.extend(dict.fromkeys(new))
        facts = self.facts(runner, memory)
        lines = []
        for report in dict.fromkeys(new):
            run = run_of(report, facts.runs)
            timing = timing_of(report, run)
            lines.append(
                pain_point(runner, facts.team, report, timing, decision_of(report, timing), run.run_id if run else None)
            )
        now_ms = int(time.time() * 1000)
        as_of = max(facts.latest_ms() or now_ms, now_ms)  # a gate lifts by time, too
        await self._publish_alerts(to_alerts(pain_decisions(facts, as_of), runner, facts.team), memory, lines)
        if (last_update := memory.last_update) is not None:
            status = status_of(last_update, facts, now_ms)
            await self.publisher.publish(f"status/{runner}", status.model_dump_json(), retain=True)
        return self.writer.write(lines)

    async def refresh_statuses(self) -> None:
        """At start and every `status_every_s`: every known runner's status as of now and today's
        midnight load point, rest days and restarts included (alerts/daily.py)."""
        await self.until_ready()
        while True:
            try:
                await refresh_known_runners(self)
            except Exception:
                log.exception("the round of known runners' statuses failed; next round as planned")
            await asyncio.sleep(self.settings.status_every_s)

    async def publish_lifted_gates(self) -> None:
        """RULES.md §3: a gate that lifts by time is published when it lifts, on a rest day too."""
        now_ms = int(time.time() * 1000)
        async with self._lock:
            for runner, memory in self.memory.items():
                if not memory.reports or not memory.updated:
                    continue
                facts = self.facts(runner, memory)
                if facts.gate(now_ms).action == facts.gate(facts.latest_ms() or now_ms).action:
                    continue  # nothing has lifted since the latest event
                lines: list[str] = []
                alerts = to_alerts(pain_decisions(facts, now_ms), runner, facts.team)
                if await self._publish_alerts(alerts, memory, lines):
                    status = status_of(memory.last_update, facts, now_ms)
                    await self.publisher.publish(f"status/{runner}", status.model_dump_json(), retain=True)
                self.writer.write(lines)

    async def _publish_alerts(self, alerts: list[Alert], memory: Memory, lines: list[str]) -> int:
        """Store the alerts not seen before and publish those recent enough; return how many were published."""
        before = self.alerts_published
        for alert in alerts:
            if alert.id in memory.published:
                continue
            memory.published.add(alert.id)
            lines.append(alert_point(alert))
            # --- history (RULES.md §7): an alert older than `push_within_days` is stored, not pushed
            if not is_pushed(alert, int(time.time() * 1000), self.settings.push_within_days):
                self.alerts_stored_only += 1
                continue
            # --- end of history
            await self.publisher.publish(f"alerts/{alert.team}/{alert.runner}", alert.model_dump_json())
            self.notifier.offer(alert)  # notifications: queued in the outbox, sent by its own thread
            self.alerts_published += 1
            metrics.ALERTS.labels(alert.rule, alert.severity).inc()
        return self.alerts_published - before

    async def _offer_status(
        self, update: RunnerUpdate, facts: RunnerFacts, memory: Memory, urgent: bool = False
    ) -> None:
        """After every run, and with every new alert, at once; while a run is under way, every 10 s,
        the latest held back until its turn comes (`publish_held_statuses`). Made only when it goes."""
        memory.pace, due = memory.pace.offer(
            update.latest.live, time.monotonic(), self.settings.live_status_interval_s, urgent
        )
        if due:
            status = status_of(update, facts)
            await self.publisher.publish(f"status/{status.runner}", status.model_dump_json(), retain=True)

    async def publish_held_statuses(self) -> None:
        """The held live statuses whose turn has come: each made from its runner's latest update and
        what the worker knows of the runner now, as it would have been made when held (nothing else
        changes a status in between; a pain report in between publishes its own)."""
        now = time.monotonic()
        async with self._lock:
            for runner, memory in self.memory.items():
                memory.pace, due = memory.pace.release(now, self.settings.live_status_interval_s)
                if due and (update := memory.last_update) is not None:
                    status = status_of(update, self.facts(runner, memory))
                    await self.publisher.publish(f"status/{runner}", status.model_dump_json(), retain=True)

    async def _memory_of(self, runner: str) -> Memory:
        """The runner as the worker knows it; read back from the store on first sight. Called with the lock held."""
        while (memory := self.memory.get(runner)) is None:
            history = self._histories.get(runner)
            if history is not None and history.done() and not history.cancelled():
                del self._histories[runner]
                published, runs, reports = history.result()
                memory = self.memory[runner] = Memory(runs, reports, published)
                break
            await self._read_histories([runner])
        return memory

    async def _read_histories(self, runners: Iterable[str]) -> None:
        """Read back the histories of the runners not in memory yet, `schema.READ_BACK_CHUNK` runners a
        query; a runner whose read is under way already is waited for, not read again. The histories
        wait in `_histories` until `_memory_of` takes them in, under the lock."""
        loop = asyncio.get_running_loop()
        waits: list[asyncio.Future[History]] = []
        new: list[str] = []
        for runner in dict.fromkeys(runners):
            if runner in self.memory:
                continue
            history = self._histories.get(runner)
            if history is None:
                history = self._histories[runner] = loop.create_future()
                new.append(runner)
            waits.append(history)
        chunk = schema.READ_BACK_CHUNK
        await asyncio.gather(*(self._read_chunk(new[start : start + chunk]) for start in range(0, len(new), chunk)))
        if waits:
            await asyncio.wait(waits)  # a read cancelled elsewhere is read again by `_memory_of`

    async def _read_chunk(self, runners: list[str]) -> None:
        try:
            async with self._read_limit:
                histories = await self._read_back(runners)
        except BaseException:  # cancelled (a stop): whoever waits for these runners reads them again
            for runner in runners:
                self._histories.pop(runner).cancel()
            raise
        for runner in runners:
            self._histories[runner].set_result(histories[runner])

    async def _read_back(self, runners: list[str]) -> dict[str, History]:
        """The runners' published alerts, runs and reports; retried until the store answers."""
        delay = 0.5
        while True:
            try:
                published, runs, reports = await asyncio.gather(
                    schema.read_alert_ids_of(self.api.query, runners, LOOK_BACK_DAYS),
                    schema.read_runs_of(self.api.query, runners, LOOK_BACK_DAYS),
                    schema.read_reports_of(self.api.query, runners, LOOK_BACK_DAYS),
                )
                return {runner: (published[runner], runs[runner], reports[runner]) for runner in runners}
            except StoreReadError as error:
                log.warning(
                    "cannot read the history of %d runners (%s, ...) from the store (%s); retrying in %.1f s",
                    len(runners),
                    runners[0],
                    error,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, READ_BACK_MAX_DELAY_S)


def _ack_when_stored(records: list, *stored: asyncio.Future | None) -> None:
    """Acknowledge Kafka records once every future of `stored` is done (the store has their points);
    at once when there is none."""
    pending = [future for future in stored if future is not None]
    left = [len(pending)]

    def acknowledge(_future=None) -> None:
        left[0] -= 1
        if left[0] > 0:
            return
        for record in records:
            record.ack()

    if not pending:
        left[0] = 1
        acknowledge()
    for future in pending:
        future.add_done_callback(acknowledge)
    # --- end of acknowledged once stored


def _merge_runs(
    known: CompactRuns, recent: tuple[RunSummary, ...], after_ms: int | None = None
) -> tuple[RunSummary, ...]:
    """The stream's view of its recent weeks (every run ending after `after_ms`) replaces ours; older
    runs we knew stay. Without `after_ms` (an older stream's update) the view starts at its oldest run,
    which keeps the earlier versions of a run still growing when it is the only run of those weeks."""
    if not recent:
        return expand(known)
    floor = min(run.end_ms for run in recent) - 1 if after_ms is None else after_ms
    older = expand(known, before_ms=floor + 1)
    return tuple(sorted((*older, *recent), key=lambda run: run.end_ms))


def create_worker(settings: Settings) -> AlertWorker:
    worker = AlertWorker(kafka.create_app(settings, "footpod-alerts"), settings)
    worker.register()
    return worker
