"""One stream step for one runner: samples in; new state, points and the alert worker's update out.

Pure: the agent reads the clock and the roster and passes them in.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from footpod.contract import CountedSample
from footpod.records import RunEvaluation, RunnerUpdate, RunSummary
from footpod.load import DAY_MS
from streams.points import cadence_points, run_point
from streams.segments import LoadParams, Segment
from streams.state import RunnerState, absorb, evaluate, history_floor, prune

RECENT_DAYS = 60  # what the alert worker looks back at: pain and return to run (4 weeks), daily EWMA (56 days)


class Context(BaseModel):
    """What a step needs besides the samples: the instant, the parameters, the roster's word."""

    model_config = ConfigDict(frozen=True)

    now_ms: int
    params: LoadParams
    team: str
    baseline_override: float | None = None


class Advance(BaseModel):
    model_config = ConfigDict(frozen=True)

    state: RunnerState
    lines: list[str] = []
    update: RunnerUpdate | None = None


def advance(state: RunnerState, samples: Sequence[CountedSample], ctx: Context) -> Advance:
    """Count the new samples once; describe the runs they touched and the runner's latest."""
    step = absorb(state, samples, ctx.params)
    if not step.fresh:
        return Advance(state=state)
    counted = step.state
    runs = counted.runs(ctx.params)
    touched = tuple(_evaluate(counted, run, runs, ctx) for run in step.touched)
    lines = cadence_points(state.runner, ctx.team, step.fresh)
    for evaluation in touched:
        device = evaluation.run.device_id
        lines.append(run_point(state.runner, ctx.team, evaluation, segments_of(counted, evaluation.run),
                               counted.retired_km.get(device, 0.0)))
    latest_end = max(run.end_ms for run in step.touched)
    state = prune(counted, history_floor(max(latest_end, ctx.now_ms - 1)), ctx.params)
    kept = state.runs(ctx.params)
    latest = _evaluate(state, kept[-1], kept, ctx) if kept else touched[-1]  # a sync older than any window
    update = RunnerUpdate(runner=state.runner, team=ctx.team, touched=touched, latest=latest,
                          recent=recent(kept))
    return Advance(state=state, lines=lines, update=update)


def conclude(state: RunnerState, ctx: Context) -> RunnerUpdate | None:
    """The update that tells the alert worker the latest run is over (evaluated at `now`)."""
    runs = state.runs(ctx.params)
    if not runs:
        return None
    final = _evaluate(state, runs[-1], runs, ctx)
    return RunnerUpdate(runner=state.runner, team=ctx.team, touched=(final,), latest=final, recent=recent(runs))


def _evaluate(state: RunnerState, run: RunSummary, runs: list[RunSummary], ctx: Context) -> RunEvaluation:
    device_km = state.device_km(run.device_id, run.end_ms, ctx.params)
    return evaluate(run, runs, state.first_seen_ms or run.start_ms, ctx.now_ms, ctx.params,
                    ctx.baseline_override, device_km)


def recent(runs: list[RunSummary]) -> tuple[RunSummary, ...]:
    """The runs the alert worker's look-back rules need (pain matching, return to run)."""
    if not runs:
        return ()
    floor = runs[-1].end_ms - RECENT_DAYS * DAY_MS
    return tuple(run for run in runs if run.end_ms > floor)


def segments_of(state: RunnerState, run: RunSummary) -> list[Segment]:
    return [segment for segment in state.devices.get(run.device_id, ())
            if run.start_ms <= segment.start_ms and segment.end_ms <= run.end_ms]
