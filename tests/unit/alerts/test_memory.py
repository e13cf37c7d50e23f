"""The alert worker keeps a runner's runs compact between events and gives the rules back the same runs."""

import json
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.decide import RunnerFacts, status_of
from alerts.worker import NO_RUNS, Memory, _latest_of, _merge_runs, compact, expand, expand_after, merge_delta
from footpod.load import load_at
from footpod.records import RunEvaluation, RunnerUpdate, RunSummary, unpack_updates
from tests.unit.builders import a_run

_DEVICES = ["pod-1", "pod-2", "watch"]
DAY_MS = 86_400_000


@st.composite
def _run(draw) -> RunSummary:
    device = draw(st.sampled_from(_DEVICES))
    start = draw(st.integers(0, 2**42))
    # named by the stream (`device@start`, not kept), by the device, or empty
    run_id = draw(st.sampled_from([f"{device}@{start}", f"{device}@{start + 1}", "", "r"]) | st.text(max_size=12))
    return RunSummary(
        run_id=run_id,
        device_id=device,
        start_ms=start,
        end_ms=draw(st.integers(0, 2**42)),
        km=draw(st.floats(0, 100) | st.just(-0.0)),
        samples=draw(st.integers(0, 20_000)),
        cadence_spm=draw(st.none() | st.floats(100, 220) | st.just(0.0) | st.just(-0.0)),
    )


_runs = _run()


def _same(a: tuple[RunSummary, ...], b: tuple[RunSummary, ...]) -> bool:
    """Equal, and every float with its sign (0.0 == -0.0 would hide a lost sign)."""
    return a == b and all(
        str(x.km) == str(y.km) and str(x.cadence_spm) == str(y.cadence_spm) for x, y in zip(a, b, strict=True)
    )


@given(st.lists(_runs, max_size=8))
def test_compact_runs_expand_to_the_runs_kept(runs):
    assert _same(expand(compact(runs)), tuple(runs))
    assert Memory(tuple(runs), [], set()).compact_runs == compact(runs)


@given(st.lists(_runs, max_size=8), st.integers(0, 2**42))
def test_expanding_before_a_time_is_expanding_then_filtering(runs, before_ms):
    assert _same(expand(compact(runs), before_ms), tuple(r for r in runs if r.end_ms < before_ms))


def test_run_ids_the_stream_names_are_not_kept_and_devices_are_shared():
    runs = [
        RunSummary(
            run_id=f"pod-1@{start}",
            device_id="pod-1",
            start_ms=start,
            end_ms=start + 9,
            km=1.0,
            samples=9,
            cadence_spm=170.0,
        )
        for start in (10, 20)
    ] + [
        RunSummary(
            run_id="", device_id="".join(["wat", "ch"]), start_ms=30, end_ms=39, km=1.0, samples=9, cadence_spm=None
        )
    ]
    kept = compact(runs)
    assert kept.run_ids == {2: ""}  # only the id a stream's name would not give back
    assert kept.devices == ("pod-1", "watch")
    assert kept.devices[1] is sys.intern("watch")
    assert expand(kept) == tuple(runs)
    assert compact([]) is NO_RUNS and expand(NO_RUNS) == ()


@given(st.lists(_runs, max_size=8), st.lists(_runs, max_size=8))
def test_merging_into_compact_runs_is_merging_the_runs(known, recent):
    known = sorted(known, key=lambda run: run.end_ms)
    floor = min((run.end_ms for run in recent), default=None)
    expected = (
        tuple(known)
        if floor is None
        else tuple(sorted([*(r for r in known if r.end_ms < floor), *recent], key=lambda run: run.end_ms))
    )
    assert _same(_merge_runs(compact(known), tuple(recent)), expected)


@given(st.lists(_runs, max_size=8), st.lists(_runs, min_size=1, max_size=8), st.integers(0, 2**42))
def test_the_streams_recent_runs_replace_every_run_known_to_end_after_their_window_start(known, recent, after_ms):
    known = sorted(known, key=lambda run: run.end_ms)
    recent = [run for run in recent if run.end_ms > after_ms] or [recent[0].model_copy(update={"end_ms": after_ms + 1})]
    expected = tuple(sorted([*(r for r in known if r.end_ms <= after_ms), *recent], key=lambda run: run.end_ms))
    assert _same(_merge_runs(compact(known), tuple(recent), after_ms), expected)


def _update(runs: list[RunSummary], now_ms: int) -> RunnerUpdate:
    """As the stream sends it (read from Kafka's JSON): the latest run evaluated, every run recent."""

    def evaluate(run: RunSummary) -> RunEvaluation:
        return RunEvaluation(
            run=run,
            load=load_at(runs, run.end_ms, runs[0].start_ms - 30 * DAY_MS),
            cadence_baseline_spm=171.5,
            cadence_dev_pct=-0.25,
            live=run.end_ms > now_ms - 60_000,
            device_km=sum(r.km for r in runs if r.end_ms <= run.end_ms),
        )

    update = RunnerUpdate(
        runner="ana", team="red", touched=(evaluate(runs[-1]),), latest=evaluate(runs[-1]), recent=tuple(runs)
    )
    return RunnerUpdate.model_validate_json(update.model_dump_json())


def test_an_update_taken_in_gives_the_same_status_and_runs():
    start = 1_760_000_000_000
    runs = [
        RunSummary(
            run_id=f"pod-1@{start + day * DAY_MS}",
            device_id="pod-1",
            start_ms=start + day * DAY_MS,
            end_ms=start + day * DAY_MS + 2_700_000,
            km=8.0 + day / 7,
            samples=2700,
            cadence_spm=170.0 + day % 3,
        )
        for day in range(0, 40, 2)
    ]
    now_ms = runs[-1].end_ms + DAY_MS
    update = _update(runs[10:], now_ms)
    memory = Memory(tuple(runs[:12]), [], set())
    assert memory.last_update is None and not memory.updated
    known_before = memory.compact_runs

    merged, known = memory.take(update)

    assert known == known_before
    assert merged == tuple(runs)  # older runs kept, the stream's recent ones taken
    assert memory.compact_runs == compact(runs)
    last = memory.last_update
    assert memory.updated and (last.runner, last.team, last.latest) == (update.runner, update.team, update.latest)
    assert last.recent == () and last.touched == ()
    facts = RunnerFacts(runner="ana", team="red", runs=merged)
    for at in (None, now_ms, now_ms + 9 * DAY_MS):
        assert status_of(last, facts, at) == status_of(update, facts, at)


def _grown(run: RunSummary, end_ms: int) -> RunSummary:
    """A run as a later step knows it: the same device and start, ending no earlier than it starts."""
    return run.model_copy(update={"end_ms": max(end_ms, run.start_ms)})


def _key(run: RunSummary) -> tuple[str, int]:
    return run.device_id, run.start_ms


@given(
    st.lists(_runs, max_size=10, unique_by=_key),
    st.lists(st.tuples(st.booleans(), _runs, st.integers(0, 2**42)), max_size=3),
)
def test_a_delta_replaces_the_run_of_the_same_device_and_start_or_is_inserted_and_keeps_the_runs_by_end(known, deltas):
    known = sorted((_grown(run, run.end_ms) for run in known), key=lambda run: run.end_ms)
    changed: dict[tuple[str, int], RunSummary] = {}
    for of_known, run, end_ms in deltas:  # a run known, grown; or a run of its own
        if of_known and known:
            old = known[end_ms % len(known)]
            changed[_key(old)] = _grown(old, old.end_ms + end_ms % 10_000).model_copy(update={"km": run.km})
        else:
            changed[_key(run)] = _grown(run, end_ms)
    merged = expand(merge_delta(compact(known), tuple(changed.values())))
    expected = [run for run in known if _key(run) not in changed] + list(changed.values())
    ordered = sorted(merged, key=lambda run: (run.end_ms, _key(run)))
    assert _same(tuple(ordered), tuple(sorted(expected, key=lambda run: (run.end_ms, _key(run)))))
    assert [run.end_ms for run in merged] == sorted(run.end_ms for run in merged)


@given(
    st.lists(_runs, max_size=10, unique_by=_key),
    st.lists(st.lists(st.tuples(st.booleans(), _runs, st.integers(0, 2**42)), max_size=2), max_size=5),
)
def test_runs_expanded_from_an_earlier_expansion_are_the_runs_expanded_afresh(known, steps):
    """`expand_after` reuses the runs an earlier expansion made where the packed runs begin as they
    did: after any deltas it gives exactly what expanding every run gives."""
    runs = compact(sorted((_grown(run, run.end_ms) for run in known), key=lambda run: run.end_ms))
    kept = (runs, expand(runs))
    for deltas in steps:
        current = expand(runs)
        changed = []
        for of_known, run, end_ms in deltas:  # a run known, grown (the live case); or a run of its own
            if of_known and current:
                old = current[end_ms % len(current)]
                changed.append(_grown(old, old.end_ms + end_ms % 10_000).model_copy(update={"km": run.km}))
            else:
                changed.append(_grown(run, end_ms))
        runs = merge_delta(runs, tuple({_key(run): run for run in changed}.values()))
        expanded = expand_after(runs, kept)
        assert expanded == expand(runs)
        kept = (runs, expanded)


def test_a_live_runners_runs_are_reused_between_updates_and_let_go_at_rest():
    memory = Memory([], [], set())
    start = 1_760_000_000_000
    history = tuple(
        a_run(start - d * DAY_MS + 45 * 60_000, minutes=45, km=9.0, device="pod", run_id=f"pod@{start - d * DAY_MS}")
        for d in range(40, 0, -1)
    )
    window = _update([*history], start).model_copy(update={"recent_kind": "window"})
    live = window.latest.model_copy(update={"live": True, "final": False})
    memory.take(window.model_copy(update={"latest": live}))
    first = memory.runs()
    run = a_run(start + 60_000, minutes=1, km=0.2, cadence=170.0, device="pod", run_id=f"pod@{start}")
    delta = window.model_copy(
        update={"recent": (run,), "recent_kind": "delta", "recent_after_ms": None, "latest": live}
    )
    runs, _ = memory.take(delta)
    assert runs == expand(memory.compact_runs) and runs[-1] == run
    assert all(a is b for a, b in zip(runs[:-1], first))  # the 40 runs before reused, not made again
    final = delta.model_copy(update={"latest": delta.latest.model_copy(update={"live": False, "final": True})})
    memory.take(final)
    assert memory._expanded is None  # at rest: the compact runs only
    assert memory.runs() == expand(memory.compact_runs)


@pytest.mark.parametrize("live", [True, False])
def test_the_latest_update_reads_back_the_same_kept_as_it_is_while_live_and_as_json_at_rest(live):
    start = 1_760_000_000_000
    runs = [a_run(start + d * DAY_MS, minutes=45, km=9.0, device="pod", run_id=f"pod@{d}") for d in range(5)]
    update = _update(runs, runs[-1].end_ms)
    update = update.model_copy(update={"latest": update.latest.model_copy(update={"live": live, "final": not live})})
    memory = Memory([], [], set())
    memory.take(update)
    assert memory.last_update == RunnerUpdate.model_validate_json(_latest_of(update))  # what a status reads
    assert isinstance(memory._latest, str) is not live  # a runner at rest keeps a few hundred bytes


def test_an_update_from_an_older_stream_without_a_kind_is_a_window():
    start = 1_760_000_000_000
    runs = [
        RunSummary(
            run_id=f"pod-1@{start + day * DAY_MS}",
            device_id="pod-1",
            start_ms=start + day * DAY_MS,
            end_ms=start + day * DAY_MS + 600_000,
            km=2.0,
            samples=600,
            cadence_spm=170.0,
        )
        for day in range(4)
    ]
    sent = _update(runs[2:3], runs[2].end_ms).model_dump(mode="json")
    del sent["recent_kind"]  # as an older stream wrote it
    (update,) = unpack_updates(json.dumps([sent]).encode())
    assert update.recent_kind == "window"
    memory = Memory(tuple(runs), [], set())
    merged, _ = memory.take(update)
    assert merged == tuple(runs[:3])  # the runs after the window's first run are gone: it is all there is


def test_runs_expanded_are_runs_a_copy_of_one_changes_no_other():
    runs = [
        RunSummary(run_id=f"pod@{at}", device_id="pod", start_ms=at, end_ms=at + 9, km=1.0, samples=9, cadence_spm=170)
        for at in (10, 20)
    ]
    first, second = expand(compact(runs))
    changed = first.model_copy(update={"km": 2.5})
    assert (changed.km, first.km, second.km) == (2.5, 1.0, 1.0)
    every_field = set(RunSummary.model_fields)
    assert changed.model_fields_set == first.model_fields_set == second.model_fields_set == every_field
    assert RunSummary.model_validate_json(second.model_dump_json()) == second == runs[1]
