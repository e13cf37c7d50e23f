"""A status that is true today (CONTRACT.md, `status/{runner}`: at least once a day for every runner the
service knows, `as_of` now): the status and load as of an instant, from the known runs and reports.

`status_now` is pure. `refresh_known_runners` is the worker's round: the runners come from the store
(every runner with a `run` point), so a restarted worker knows them all, and rest days count too.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from alerts.decide import RunnerFacts, status_from
from alerts.points import load_point
from alerts.rules import progression
from footpod import schema
from footpod.contract import Status
from footpod.load import DAY_MS, cadence_baseline, load_at
from footpod.records import LoadSnapshot

if TYPE_CHECKING:
    from alerts.worker import AlertWorker

log = logging.getLogger("footpod.alerts")


def load_as_of(facts: RunnerFacts, as_of_ms: int) -> LoadSnapshot:
    """The load at `as_of_ms` from the runs known; history counts from the first known run."""
    first_seen = min((run.start_ms for run in facts.runs), default=as_of_ms)
    return load_at(facts.runs, as_of_ms, first_seen)


def status_now(facts: RunnerFacts, as_of_ms: int) -> tuple[Status, float | None]:
    """The runner's status at `as_of_ms` with the gate in force then, and the week's allowed km.

    Runs that ended after `as_of_ms` are not seen; a run leaves `week_km` 7 days after its end.
    """
    runs = [run for run in facts.runs if run.end_ms <= as_of_ms]
    load = load_as_of(facts, as_of_ms)
    gate = facts.gate(as_of_ms)
    last = max(runs, key=lambda run: run.end_ms, default=None)
    baseline = facts.entry.baseline_cadence_spm or cadence_baseline(runs, as_of_ms)
    status = status_from(facts, load, last, baseline, as_of_ms)
    return status, progression.allowed_week_km(load, gate.action, facts.reference_km(gate))


async def known_runners(worker: AlertWorker) -> set[str]:
    """Every runner with a run in the store, and those in the worker's memory."""
    return await schema.read_runners(worker.api.query) | set(worker.memory)


async def refresh_known_runners(worker: AlertWorker) -> None:
    """Publish every known runner's status as of now, queue its daily message, write today's load point."""
    if worker.writer is None or worker.publisher is None:
        return
    now = int(time.time() * 1000)
    midnight = now // DAY_MS * DAY_MS
    runners = await known_runners(worker)
    await worker._read_histories(sorted(runners))  # the unseen ones together, a few queries per hundred
    lines = []
    for runner in sorted(runners):
        async with worker._lock:  # one runner at a time: updates and reports go on between them
            memory = await worker._memory_of(runner)
            facts = worker.facts(runner, memory)
            status, allowed = status_now(facts, now)
            pace = memory.pace
            live_lately = (
                pace.last_live_s is not None
                and time.monotonic() - pace.last_live_s < 2 * worker.settings.live_status_interval_s
            )
            if not pace.held and not live_lately:  # a run under way publishes its own status
                await worker.publisher.publish(f"status/{runner}", status.model_dump_json(), retain=True)
            worker.notifier.offer_status(status, allowed, now)
            if facts.runs:
                load = load_as_of(facts, midnight)
                lines.append(load_point(runner, facts.team, load, facts.gate(midnight).action))
    worker.writer.write(lines)
    log.info("status as of now published for %d known runners", len(runners))
