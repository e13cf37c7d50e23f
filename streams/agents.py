"""The stream's agents: move batches of samples through the pure functions of `streams.state`.

Per step (up to `stream_batch_max` Kafka records or 0.3 s): each runner's state is updated once,
the new `cadence` and `run` points go to the store, a `RunnerUpdate` goes to the alert worker.
The step's Kafka records are acknowledged only when the store has its points.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict

import faust

from footpod import kafka, metrics
from footpod.contract import CountedSample, SampleBatch
from footpod.records import RunnerUpdate
from footpod.settings import Settings
from footpod.worker import StageWorker
from streams.seed import seed_state
from streams.segments import load_params
from streams.state import RunnerState
from streams.step import Context, advance, conclude

log = logging.getLogger("footpod.stream")
STEP_WITHIN_S = 0.3  # a live sample reaches the alert worker within a second


class StreamWorker(StageWorker):
    """Holds the runners' states of this worker's partitions; seeded from the store on first use."""

    log = log
    stage = "stream"

    def __init__(self, app: faust.App, settings: Settings):
        super().__init__(app, settings)
        self.params = load_params(settings)
        self.states: dict[str, RunnerState] = {}
        self.live_runs: dict[str, int] = {}  # runner -> end of a run still under way
        self.samples_in = 0
        self.samples_topic = app.topic(kafka.SAMPLES, key_type=bytes, value_type=bytes)
        self.updates_topic = app.topic(kafka.UPDATES, key_type=bytes, value_type=bytes)

    def register(self) -> None:
        self.app.agent(self.samples_topic, name="samples")(self.consume)
        self.app.timer(2.0)(self.close_finished_runs)
        self.app.on_partitions_assigned.connect(self.forget_states)
        super().register()

    def progress(self) -> str:
        return f"{self.samples_in} samples read, {len(self.states)} runners in memory"

    async def forget_states(self, *args, **kwargs) -> None:
        """After a rebalance the store plus the uncommitted records are the truth: reseed."""
        self.states.clear()

    async def consume(self, stream) -> None:
        async for events in stream.take_events(self.settings.stream_batch_max, within=STEP_WITHIN_S):
            await self.step(events)

    async def step(self, events) -> None:
        await self.until_ready()
        by_runner: dict[str, list[CountedSample]] = defaultdict(list)
        for event in events:
            batch = SampleBatch.model_validate_json(event.value)
            by_runner[batch.runner].extend(batch.samples)
        now_ms = int(time.time() * 1000)
        lines: list[str] = []
        for runner, samples in by_runner.items():
            self.samples_in += len(samples)
            metrics.SAMPLES_IN.labels(self.stage).inc(len(samples))
            update = await self._absorb(runner, samples, now_ms, lines)
            if update is not None:
                await self.updates_topic.send(key=runner.encode(), value=update.model_dump_json().encode())
        self._ack_when_stored(events, lines)

    async def _absorb(self, runner: str, samples: list[CountedSample], now_ms: int, lines: list[str]) -> RunnerUpdate | None:
        result = advance(await self._state_of(runner), samples, self._context(runner, now_ms))
        self.states[runner] = result.state
        lines.extend(result.lines)
        if result.update is not None and result.update.latest.live:
            self.live_runs[runner] = result.update.latest.run.end_ms
        return result.update

    def _context(self, runner: str, now_ms: int) -> Context:
        entry = self.roster.current.entry(runner)
        return Context(now_ms=now_ms, params=self.params, team=entry.team,
                       baseline_override=entry.baseline_cadence_spm)

    async def _state_of(self, runner: str) -> RunnerState:
        state = self.states.get(runner)
        if state is None:
            state = await seed_state(self.api, runner) or RunnerState(runner=runner)
            self.states[runner] = state
        return state

    def _ack_when_stored(self, events, lines: list[str]) -> None:
        for event in events:
            event.message.incref()

        def acknowledge(_future) -> None:
            for event in events:
                event.ack()

        self.writer.write(lines).add_done_callback(acknowledge)

    async def close_finished_runs(self) -> None:
        """Tell the alert worker when a live run has had no sample for the run gap: it is over."""
        now_ms = int(time.time() * 1000)
        for runner, end_ms in list(self.live_runs.items()):
            if now_ms - end_ms < self.params.run_gap_ms:
                continue
            del self.live_runs[runner]
            state = self.states.get(runner)
            update = conclude(state, self._context(runner, now_ms)) if state else None
            if update is not None:
                await self.updates_topic.send(key=runner.encode(), value=update.model_dump_json().encode())


def create_worker(settings: Settings) -> StreamWorker:


    worker = StreamWorker(kafka.create_app(settings, "footpod-stream"), settings)
    worker.register()
    return worker
