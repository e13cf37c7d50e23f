"""One stream step for one runner: samples in; new state, points and the alert worker's update out.

Two kinds of step, both pure (the agent reads the clock and the roster and passes them in):
`step` counts a batch of samples; `conclude` judges the runs that have become whole (RULES.md §1
"a whole run") and gives their one verdict.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from footpod.contract import CountedSample
from footpod.load import BASELINE_DAYS, CHRONIC_DAYS, DAY_MS, EWMA_DAYS, WEEK_MS
from footpod.records import RunEvaluation, RunnerUpdate, RunSummary, built
from streams.points import cadence_points, run_point, superseded_run_point
from streams.runs import summarise
from streams.segments import LoadParams, Segment, join_all
from streams.state import (
    RunnerState,
    Runs,
    count_samples,
    evaluate,
    evaluation_with,
    key_of,
    one_per_overlap,
    seal,
)

RECENT_DAYS = 60  # what the alert worker looks back at: pain and return to run (4 weeks), daily EWMA (56 days)
LOAD_REACH_MS = max(2 * WEEK_MS, CHRONIC_DAYS * DAY_MS, EWMA_DAYS * DAY_MS)  # the runs `load_at` reads end within


class Context(BaseModel):
    """What a step needs besides the samples: the instant, the parameters, the roster's word."""

    model_config = ConfigDict(frozen=True)

    now_ms: int
    params: LoadParams
    team: str
    baseline_override: float | None = None
    # whether `step` writes the `run` points of the open runs it touches; the agent asks for them only
    # every few seconds a runner (`open_run_points` then), not at every live sample
    run_points: bool = True
    # whether the update carries the whole `recent` window whatever the step changed: the runner's first
    # update after its state was seeded in this worker (a start, a rebalance), as the alert worker may
    # have restarted meanwhile or known the runner from another view
    full_window: bool = False


class StepResult(BaseModel):
    """A runner's new state, the points for the store and the update for the alert worker."""

    model_config = ConfigDict(frozen=True)

    state: RunnerState
    lines: list[str] = []
    update: RunnerUpdate | None = None


def step(state: RunnerState, samples: Sequence[CountedSample], ctx: Context) -> StepResult:
    """Count the new samples once; describe the runs they touched (still open: not final) and
    the runner's latest run. Nothing new: the state unchanged, no points, no update."""
    counted = count_samples(state, samples, ctx.params, ctx.now_ms)
    if not counted.fresh:
        return StepResult(state=state)
    before: dict[str, dict[int, list[Segment]]] = {}
    after_all = _after_all(state, counted.fresh)
    if not after_all:  # else no run's start can move: nothing is superseded
        for run in counted.touched:  # the runs the new samples may have changed, as they were (their segments)
            for old in state.groups_near(run.device_id, run.start_ms, run.end_ms, ctx.params):
                before.setdefault(run.device_id, {})[old[0].start_ms] = old
    new = counted.state
    runs = new.all_runs(ctx.params)
    winners = _unique(runs.winner_of[key_of(run)] for run in counted.touched)
    lines = cadence_points(state.runner, ctx.team, counted.fresh)
    lines += _superseded_lines(new, ctx.team, before, ctx.params)
    touched = []
    for winner in winners:
        evaluation = _evaluate(new, runs, winner, ctx)
        touched.append(evaluation)
        if ctx.run_points or evaluation.final:
            lines += _run_lines(new, runs, evaluation, ctx)
    delta = (
        after_all and not ctx.full_window and _only_winners_changed(state, runs, winners, counted.touched, ctx.params)
    )
    update = built(
        RunnerUpdate,
        {
            "runner": state.runner,
            "team": ctx.team,
            "touched": tuple(touched),
            "latest": _latest(new, runs, ctx, touched),
            **_recent_fields(runs, winners, delta),
        },
    )
    return built(StepResult, {"state": new, "lines": lines, "update": update})


def conclude(state: RunnerState, ctx: Context) -> StepResult:
    """Judge the runs that are whole at `ctx.now_ms`: each is sealed into one segment, its `run`
    point written as final, and the alert worker told (`final=True`). Nothing whole: no update."""
    if not may_be_whole(state, ctx.now_ms, ctx.params):
        return StepResult(state=state)
    sealed_state, sealed = seal(state, ctx.now_ms, ctx.params)
    if not sealed:
        return StepResult(state=state)
    runs = sealed_state.all_runs(ctx.params)
    winners = _unique(runs.winner_of[key_of(run)] for run in sealed if key_of(run) in runs.winner_of)
    touched, lines = [], []
    for winner in winners:
        evaluation = _evaluate(sealed_state, runs, winner, ctx)
        lines += _run_lines(sealed_state, runs, evaluation, ctx)
        if evaluation.final:
            touched.append(evaluation)
    if not touched:  # an overlapping source is still open: its verdict comes with it
        return StepResult(state=sealed_state, lines=lines)
    # a run sealed keeps its device, start and end: where no other source overlaps it, it alone changed
    delta = not ctx.full_window and all(len(runs.members(winner)) == 1 for winner in winners)
    update = built(
        RunnerUpdate,
        {
            "runner": state.runner,
            "team": ctx.team,
            "touched": tuple(touched),
            "latest": _latest(sealed_state, runs, ctx, touched),
            **_recent_fields(runs, winners, delta),
        },
    )
    return StepResult(state=sealed_state, lines=lines, update=update)


def open_run_points(state: RunnerState, ctx: Context) -> list[str]:
    """The `run` points of the runner's open runs as they stand now (each overlap group's): what the
    steps with `ctx.run_points` False left out."""
    if not has_open_runs(state):
        return []
    runs = state.all_runs(ctx.params)
    lines = []
    for winner in _unique(runs.winner_of[key] for key in runs.open_keys if key in runs.winner_of):
        lines += _run_lines(state, runs, _evaluate(state, runs, winner, ctx), ctx)
    return lines


def may_be_whole(state: RunnerState, now_ms: int, params: LoadParams) -> bool:
    """Whether some open run could be whole at `now_ms` (`streams.state.is_whole`): a run is whole only
    if each of its segments arrived `settle_ms` ago and ended `run_gap_ms` ago, so without such a
    segment nothing is, and the runs need not be grouped and summarised (once a second for every
    runner under way)."""
    return any(
        segment.arrived_ms is not None
        and now_ms - segment.arrived_ms >= params.settle_ms
        and now_ms - segment.end_ms >= params.run_gap_ms
        for segments in state.maybe_open()
        for segment in segments
    )


def has_open_runs(state: RunnerState) -> bool:
    return any(segment.open for segments in state.maybe_open() for segment in segments)


def _evaluate(state: RunnerState, runs: Runs, run: RunSummary, ctx: Context) -> RunEvaluation:
    """`evaluate` over the counted runs its windows can see (load up to `LOAD_REACH_MS` before the
    run's end, the cadence baseline's days before its start): the same runs in the same order,
    found by bisection instead of a walk through the runner's whole history; those before the run
    summed once for the steps of a live run (`RunnerState.before`)."""
    after = min(run.end_ms - LOAD_REACH_MS, run.start_ms - BASELINE_DAYS * DAY_MS - 1)
    window = runs.window(after, run.end_ms)
    first_seen_ms = state.first_seen_ms or run.start_ms
    device_km = runs.device_km(run.device_id, run.end_ms)
    final = not runs.is_open(run)
    if not window or window[-1] is not run:  # another run ends with it: all from the window
        return evaluate(
            run, window, first_seen_ms, ctx.now_ms, ctx.params, ctx.baseline_override, device_km, final=final
        )
    # the run ends the window: the runs before it are summed once and kept (`RunnerState.before`)
    before = state.before(run, window[:-1])
    baseline = ctx.baseline_override if ctx.baseline_override is not None else before.baseline
    load = before.load.load_at(run.end_ms, first_seen_ms, run.km)
    return evaluation_with(run, load, baseline, ctx.now_ms, ctx.params, device_km, final)


def _latest(state: RunnerState, runs: Runs, ctx: Context, touched: Sequence[RunEvaluation]) -> RunEvaluation:
    """The latest counted run's evaluation: during a live run it is the run just touched, evaluated
    already in the same step (same state, runs and context), so it is not evaluated twice."""
    latest = runs.counted[-1]
    for evaluation in touched:
        if evaluation.run is latest or evaluation.run == latest:
            return evaluation
    return _evaluate(state, runs, latest, ctx)


def _run_lines(state: RunnerState, runs: Runs, evaluation: RunEvaluation, ctx: Context) -> list[str]:
    """The `run` points of an overlap group: the counted run, and the other sources as duplicates."""
    lines = []
    for member in runs.members(evaluation.run):
        segments = state.segments_of(member)
        stored = [join_all(segments, ctx.params)] if segments else []
        if key_of(member) == key_of(evaluation.run):
            lines.append(run_point(state.runner, ctx.team, evaluation, stored))
        else:
            duplicate = evaluation.model_copy(update={"run": member})
            lines.append(run_point(state.runner, ctx.team, duplicate, stored, duplicate_of=evaluation.run.run_id))
    return lines


def _after_all(state: RunnerState, fresh: Sequence[CountedSample]) -> bool:
    """Whether each sample comes after every segment its device had (a live sample, as a rule):
    such samples start runs or join the last one, and every run starts where it started."""
    for sample in fresh:
        segments = state.devices.get(sample.device_id)
        if segments and sample.ts <= segments[-1].end_ms:
            return False
    return True


def _superseded_lines(
    state: RunnerState, team: str, before: dict[str, dict[int, list[Segment]]], params: LoadParams
) -> list[str]:
    """Runs whose start moved earlier (late samples before them): their point at the old start
    is overwritten as superseded, so one run stays one point (issue 9). Only the device's runs
    around the old start (`runs_near`) can start there or hold it. `before` holds the runs as they
    were, by device and start, as their segments (summarised only if superseded)."""
    lines = []
    for device, old_runs in before.items():
        for start_ms, old in old_runs.items():
            if state.starts_run_at(device, start_ms, params):  # the run still starts there
                continue
            new_runs = state.runs_near(device, start_ms, start_ms, params)
            if any(run.start_ms == start_ms for run in new_runs):
                continue
            into = next((run for run in new_runs if run.start_ms < start_ms <= run.end_ms), None)
            if into is not None:
                lines.append(superseded_run_point(state.runner, team, summarise(device, old, params), into.run_id))
    return lines


def _only_winners_changed(
    state: RunnerState, runs: Runs, winners: Sequence[RunSummary], touched: Sequence[RunSummary], params: LoadParams
) -> bool:
    """Whether the step changed no counted run but `winners` (the counted runs of the overlaps it
    touched), each keeping its device and start: then the alert worker, knowing the counted runs
    before the step, knows them after it from `winners` alone (`RunnerUpdate.recent_kind`, "delta").
    Called for samples that come after every segment of their device (`_after_all`): runs only grow
    or begin, none starts elsewhere or goes, and overlaps only join. A run alone in its overlap was
    alone before: it counted, under its key. In an overlap of sources, the runs counted before (the
    old versions of the runs touched, the others as they are) must have been the one counted now."""
    touched_keys = {key_of(run) for run in touched}
    for winner in winners:
        members = runs.members(winner)
        if len(members) == 1:
            continue
        old = []
        for member in members:
            if key_of(member) not in touched_keys:
                old.append(member)
                continue
            device, start = key_of(member)
            old.extend(run for run in state.runs_near(device, start, start, params) if run.start_ms == start)
        if any(key_of(counted) != key_of(winner) for counted in one_per_overlap(old).values()):
            return False
    return True


def _recent_fields(runs: Runs, winners: Sequence[RunSummary], delta: bool) -> dict:
    """The update's `recent` runs: the winners alone (a delta), or every run of the window."""
    if delta:
        return {"recent": tuple(winners), "recent_after_ms": None, "recent_kind": "delta"}
    return {"recent": _recent(runs, winners), "recent_after_ms": _recent_after(runs, winners), "recent_kind": "window"}


def _recent(runs: Runs, touched: Sequence[RunSummary]) -> tuple[RunSummary, ...]:
    """`recent(runs.counted, touched)`, found by bisection."""
    after = _recent_after(runs, touched)
    return () if after is None else runs.since(after)


def _recent_after(runs: Runs, touched: Sequence[RunSummary]) -> int | None:
    """Where `recent` starts: `RECENT_DAYS` before the oldest of the latest run and the runs touched."""
    if not runs.counted:
        return None
    return min([runs.counted[-1].end_ms, *(run.end_ms for run in touched)]) - RECENT_DAYS * DAY_MS


def _unique(runs) -> list[RunSummary]:
    seen: dict[tuple[str, int], RunSummary] = {}
    for run in runs:
        seen.setdefault(key_of(run), run)
    return sorted(seen.values(), key=lambda run: run.end_ms)


def recent(runs: Sequence[RunSummary], touched: Sequence[RunSummary] = ()) -> tuple[RunSummary, ...]:
    """The runs the alert worker's look-back rules need (pain matching, return to run): from
    `RECENT_DAYS` before the oldest run touched (history of any age, RULES.md §7) to the newest."""
    if not runs:
        return ()
    oldest = min([runs[-1].end_ms, *(run.end_ms for run in touched)])
    floor = oldest - RECENT_DAYS * DAY_MS
    return tuple(run for run in runs if run.end_ms > floor)
