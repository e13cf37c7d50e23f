"""The stream's agents: move batches of samples through the pure functions of `streams.step`.

Per batch (up to `stream_batch_max` Kafka records or 0.1 s): each runner's samples are counted
once (`step`), the new `cadence` points go to the store, a `RunnerUpdate` goes to the alert worker
(a batch's updates packed into one record per partition, `footpod.records.pack_updates`): the first
of a runner after its state is seeded carries the whole window of its recent runs, the others only
what changed where nothing else did (`RunnerUpdate.recent_kind`). An open
run's `run` point is rewritten every `OPEN_RUN_POINT_EVERY_S` (`_pointed`). Every second, the runs
that have become whole are judged (`conclude`). A batch's points go to the store's writer in one
piece (one write, not one per runner), and a Kafka record is acknowledged only once the store has
the points of all its samples, its open runs' included.

A runner whose state cannot be read from the store yet (the store is down) waits alone: its
records are held, unacknowledged, and retried; the other runners go on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import faust

from footpod import kafka, metrics, schema
from footpod.records import RunnerUpdate, SampleRecord, built, decode_sample_batches, pack_updates
from footpod.settings import Settings
from footpod.worker import StageWorker
from streams.seed import SeedUnavailable, runners_with_open_runs, seed_state, seed_states
from streams.segments import load_params
from streams.state import RunnerState
from streams.step import Context, StepResult, conclude, has_open_runs, may_be_whole, open_run_points, step

log = logging.getLogger("footpod.stream")
STEP_WITHIN_S = 0.1  # how long a batch waits to fill: added to a live sample's delay at most
OPEN_RUN_POINT_EVERY_S = 5.0  # an open run's `run` point is rewritten at most this often (`_pointed`)
CONCLUDE_EVERY_S = 1.0  # how often whole runs are looked for (RULES.md §1 "a whole run": 30 s of silence)
SEED_RETRY_S = 2.0
# Ours: how often each runner with a run under way is sent the whole `recent` window again (its next
# update), whatever changed: an alert worker that restarted while this worker ran read the runner back
# from the store and has taken deltas since; this bounds how long a view it missed could last.
WINDOW_EVERY_S = 300.0
SEED_QUERIES = 4  # queries of runners' states (`schema.READ_BACK_CHUNK` runners each) made at once


@dataclass(frozen=True)
class Share:
    """One runner's samples in one Kafka record (a record packs the runners of one partition,
    `footpod.records.decode_sample_batches`); the record is acknowledged once all its shares are."""

    event: Any
    runner: str
    samples: tuple[SampleRecord, ...]


def shares_of(event) -> list[Share]:
    """A record's samples, runner by runner, in order; validated by the bridge: decoded once."""
    samples: dict[str, list[SampleRecord]] = {}
    for batch in decode_sample_batches(event.value):
        samples.setdefault(batch.runner, []).extend(batch.samples)
    return [Share(event, runner, tuple(runner_samples)) for runner, runner_samples in samples.items()]


class StreamWorker(StageWorker):
    """Holds the runners' states of this worker's partitions; seeded from the store on first use."""

    log = log
    stage = "stream"

    def __init__(self, app: faust.App, settings: Settings):
        super().__init__(app, settings)
        self.params = load_params(settings)
        self.states: dict[str, RunnerState] = {}
        self.open_runners: set[str] = set()  # runners with a run not yet judged whole
        self.waiting: dict[str, list[Share]] = {}  # runner -> shares of records held while its state cannot be read
        self.unpointed: dict[str, list[Share]] = {}  # runner -> shares counted, their open run's point not written yet
        self.point_due: dict[str, int] = {}  # runner -> when its open runs' points are written next (ms)
        # runners seeded in this worker whose next update carries the whole `recent` window (`Context.full_window`),
        # not only what changed: the alert worker may have started meanwhile, or known them from another view
        self.window_due: set[str] = set()
        self.releasing = False  # a rebalance or a stop is under way: no record is held back (`release_held`)
        self.samples_in = 0
        self._samples_in_metric = metrics.SAMPLES_IN.labels(self.stage)
        self._live_delay = metrics.LIVE_DELAY.labels(self.stage)
        self.samples_topic = app.topic(kafka.SAMPLES, key_type=bytes, value_type=bytes)
        self.updates_topic = app.topic(kafka.UPDATES, key_type=bytes, value_type=bytes)
        self._partition_of = None  # runner -> its partition of `footpod.updates`, once the topic is known

    def register(self) -> None:
        self.app.release_held = self.release_held
        self.app.agent(self.samples_topic, name="samples")(self.consume)
        self.app.timer(CONCLUDE_EVERY_S)(self.conclude_whole_runs)
        self.app.timer(SEED_RETRY_S)(self.retry_waiting)
        self.app.timer(WINDOW_EVERY_S)(self.windows_due)
        self.app.on_partitions_assigned.connect(self.forget_states)
        super().register()

    async def on_store_open(self) -> None:
        for runner in await runners_with_open_runs(self.api):
            await self._load_open(runner)

    async def _load_open(self, runner: str) -> None:
        """A runner left with an open run by a stop: seeded, so `conclude_whole_runs` judges it."""
        try:
            await self._state_of(runner)
        except SeedUnavailable:
            return

    def progress(self) -> str:
        return (
            f"{self.samples_in} samples read, {len(self.states)} runners in memory ({len(self.open_runners)} "
            f"with open runs, {len(self.waiting)} waiting for the store)"
        )

    async def forget_states(self, *args, **kwargs) -> None:
        """After a rebalance the store plus the uncommitted records are the truth: reseed."""
        assigned = next((a for a in (*args, *kwargs.values()) if isinstance(a, (set, frozenset))), set())
        samples = sorted(tp.partition for tp in assigned if getattr(tp, "topic", None) == kafka.SAMPLES)
        log.info("partitions assigned: %s %s", kafka.SAMPLES, samples)
        self.states.clear()
        self.open_runners.clear()
        self.waiting.clear()  # unacknowledged: delivered again to whoever owns them now
        self.unpointed.clear()
        self.point_due.clear()
        self.window_due.clear()  # seeded again, each then due a window
        self.releasing = False

    async def consume(self, stream) -> None:
        async for events in stream.take_events(self.settings.stream_batch_max, within=STEP_WITHIN_S):
            await self.take_batch(events)

    async def take_batch(self, events) -> None:
        """Count one batch of Kafka records, runner by runner."""
        await self.until_ready()
        by_runner: dict[str, list[Share]] = defaultdict(list)
        for event in events:
            shares = shares_of(event)
            event.message.incref(len(shares))  # each share acknowledged once the store has its points
            for share in shares:
                by_runner[share.runner].append(share)
        await self._seed_new(runner for runner in by_runner if runner not in self.waiting)
        now_ms = int(time.time() * 1000)
        lines: list[str] = []
        updates: list[RunnerUpdate] = []
        counted: list = []
        newest: list[int] = []  # each runner's newest sample counted
        for runner, shares in by_runner.items():
            if runner in self.waiting:
                self.waiting[runner].extend(shares)
                continue
            if await self._step_runner(runner, shares, now_ms, lines, updates):
                counted.extend(self._pointed(runner, shares, now_ms, lines))
                newest.append(max(sample.ts for share in shares for sample in share.samples))
        await self._send(updates)
        self._ack_when_stored(counted, lines)
        metrics.observe_live(self._live_delay, int(time.time() * 1000), newest)

    async def _seed_new(self, runners) -> None:
        """Read the states of runners not in memory yet, `schema.READ_BACK_CHUNK` runners a query and
        `SEED_QUERIES` queries at once; a runner that cannot be read is left to `_step_runner`, which
        holds its samples."""
        missing = [runner for runner in dict.fromkeys(runners) if runner not in self.states]
        if not missing:
            return
        limit = asyncio.Semaphore(SEED_QUERIES)

        async def seed(chunk: list[str]) -> None:
            async with limit:
                try:
                    states = await seed_states(self.api, chunk)
                except SeedUnavailable:
                    return
                for runner in chunk:
                    self._seeded(runner, None if states is None else states[runner])

        chunk = schema.READ_BACK_CHUNK
        await asyncio.gather(*(seed(missing[start : start + chunk]) for start in range(0, len(missing), chunk)))

    async def _step_runner(
        self, runner: str, shares: list[Share], now_ms: int, lines: list[str], updates: list[RunnerUpdate]
    ) -> bool:
        """Count a runner's shares of records and add their points to `lines`, its update to `updates`; False
        when its state cannot be read (the records are held, not counted)."""
        try:
            state = await self._state_of(runner)
        except SeedUnavailable as error:
            log.warning("cannot read %s's runs from the store (%s): its samples wait", runner, error)
            self.waiting[runner] = list(shares)
            return False
        samples: list[SampleRecord] = [sample for share in shares for sample in share.samples]
        self.samples_in += len(samples)
        self._samples_in_metric.inc(len(samples))
        result = step(state, samples, self._context(runner, now_ms, run_points=False))
        self._apply(runner, result, lines, updates)
        return True

    def _pointed(self, runner: str, shares: list[Share], now_ms: int, lines: list[str]) -> list[Share]:
        """The runner's shares whose samples the points in `lines` now hold, to acknowledge once stored.

        A step writes the `run` points of the runs it closes, but those of open runs only here, once
        every `OPEN_RUN_POINT_EVERY_S` a runner (at its first sample, then on that pace, here or in
        `conclude_whole_runs`): a live runner's run point is rewritten every few seconds, not at every
        sample. Until it is, the samples it will hold stay unacknowledged: a stop in between delivers
        them again, and the state seeded from the store counts them then."""
        held = self.unpointed.setdefault(runner, [])
        held.extend(shares)
        if now_ms < self.point_due.get(runner, 0) and not self.releasing:
            return []
        self.point_due[runner] = now_ms + int(OPEN_RUN_POINT_EVERY_S * 1000)
        state = self.states.get(runner)
        if state is None:  # forgotten meanwhile: its shares are delivered again, unacknowledged
            self.unpointed.pop(runner)
            return []
        lines.extend(open_run_points(state, self._context(runner, now_ms)))
        return self.unpointed.pop(runner)

    def _apply(self, runner: str, result: StepResult, lines: list[str], updates: list[RunnerUpdate]) -> None:
        self.states[runner] = result.state
        if has_open_runs(result.state):
            self.open_runners.add(runner)
        else:
            self.open_runners.discard(runner)
            result.state.forget_history()  # at rest: segments only, until its next run
        if result.update is not None:
            updates.append(result.update)
            self.window_due.discard(runner)  # its context asked for the window
        lines.extend(result.lines)

    async def _send(self, updates: list[RunnerUpdate]) -> None:
        """One record per partition of `footpod.updates` (and per 256 KB), each on the partition its
        runners' keys hash to: the partition keyed records would go to, read by the same alert worker."""
        if not updates:
            return
        if self._partition_of is None:
            self._partition_of = await kafka.key_partitioner(self.app, kafka.UPDATES)
        for partition, value in pack_updates(updates, self._partition_of):
            await self.updates_topic.send(partition=partition, value=value)

    def _context(self, runner: str, now_ms: int, run_points: bool = True) -> Context:
        """Built, not validated (`footpod.records.built`): every value has its type already, and a
        context is made for every runner of every batch."""
        entry = self.roster.current.entry(runner)
        return built(
            Context,
            {
                "now_ms": now_ms,
                "params": self.params,
                "team": entry.team,
                "baseline_override": entry.baseline_cadence_spm,
                "run_points": run_points,
                "full_window": runner in self.window_due,
            },
        )

    async def _state_of(self, runner: str) -> RunnerState:
        state = self.states.get(runner)
        if state is None:
            state = self._seeded(runner, await seed_state(self.api, runner))
        return state

    def _seeded(self, runner: str, seeded: RunnerState | None) -> RunnerState:
        """The runner's state, as read from the store (None: seeding is off) unless another task seeded it
        meanwhile."""
        fresh = seeded or RunnerState(runner=runner)
        state = self.states.setdefault(runner, fresh)
        if state is fresh:
            self.window_due.add(runner)
        if has_open_runs(state):
            self.open_runners.add(runner)
        return state

    def _ack_when_stored(self, shares: list[Share], lines: list[str]) -> None:
        def acknowledge(_future) -> None:
            for share in shares:
                share.event.ack()

        self.writer.write(lines).add_done_callback(acknowledge)

    def release_held(self) -> None:
        """A rebalance or a stop begins, and Faust waits for every record taken to be acknowledged: the
        open runs' points are written now, so the records they hold are acknowledged once stored, and
        until the next assignment no record is held back for a point (`_pointed`)."""
        self.releasing = True
        if self.writer is None or not self.unpointed:
            return
        now_ms = int(time.time() * 1000)
        lines: list[str] = []
        pointed: list[Share] = []
        for runner in list(self.unpointed):
            pointed.extend(self._pointed(runner, [], now_ms, lines))
        self._ack_when_stored(pointed, lines)

    async def windows_due(self) -> None:
        """Every runner with a run under way gets the whole window with its next update (`WINDOW_EVERY_S`)."""
        self.window_due.update(self.open_runners)

    async def retry_waiting(self) -> None:
        """Runners whose state could not be read: try again, and count their held samples."""
        if self.writer is None:
            return
        now_ms = int(time.time() * 1000)
        lines: list[str] = []
        updates: list[RunnerUpdate] = []
        counted: list = []
        for runner in list(self.waiting):
            shares = self.waiting.pop(runner)
            if await self._step_runner(runner, shares, now_ms, lines, updates):
                counted.extend(self._pointed(runner, shares, now_ms, lines))
        await self._send(updates)
        self._ack_when_stored(counted, lines)

    async def conclude_whole_runs(self) -> None:
        """Judge the runs that have become whole (RULES.md §1): one final verdict per run."""
        if self.writer is None:
            return
        now_ms = int(time.time() * 1000)
        lines: list[str] = []
        updates: list[RunnerUpdate] = []
        for runner in list(self.open_runners):
            state = self.states.get(runner)
            if state is None:
                self.open_runners.discard(runner)
                continue
            if not may_be_whole(state, now_ms, self.params):  # as `conclude` would say, without a context
                continue
            result = conclude(state, self._context(runner, now_ms))
            if result.state is not state:  # some run was judged
                self._apply(runner, result, lines, updates)
        pointed: list[Share] = []
        for runner in list(self.unpointed):  # open runs' points due (`_pointed`), after the verdicts
            if now_ms >= self.point_due.get(runner, 0):
                pointed.extend(self._pointed(runner, [], now_ms, lines))
        await self._send(updates)
        self._ack_when_stored(pointed, lines)


def create_worker(settings: Settings) -> StreamWorker:

    worker = StreamWorker(kafka.create_app(settings, "footpod-stream"), settings)
    worker.register()
    return worker
