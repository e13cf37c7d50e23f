"""Builders the unit tests share: a run, the load at an instant, and a run's evaluation.

Each test module keeps a small `evaluation()` of its own with the defaults its table needs and
builds it from these, so what a run, a load and an evaluation are is written once.
"""

from __future__ import annotations

from footpod.records import LoadSnapshot, RunEvaluation, RunSummary

MINUTE_MS = 60_000


def a_run(
    end_ms: int,
    *,
    minutes: int = 60,
    km: float = 5.0,
    cadence: float | None = 175.0,
    device: str = "pod-1",
    run_id: str = "run-1",
) -> RunSummary:
    """A steady run of `minutes` at 1 Hz ending at `end_ms`."""
    return RunSummary(
        run_id=run_id,
        device_id=device,
        start_ms=end_ms - minutes * MINUTE_MS,
        end_ms=end_ms,
        km=km,
        samples=minutes * 60,
        cadence_spm=cadence,
    )


def a_load(
    as_of_ms: int,
    week: float,
    prev: float,
    *,
    acwr: float | None = None,
    chronic: float | None = None,
    history_days: float = 60.0,
) -> LoadSnapshot:
    """The load at `as_of_ms`: change from `week` and `prev`; chronic from `acwr` unless given."""
    if chronic is None:
        chronic = week / acwr if acwr else 0.0
    return LoadSnapshot(
        as_of_ms=as_of_ms,
        week_km=week,
        prev_week_km=prev,
        change_pct=(week - prev) / prev * 100 if prev else None,
        chronic_week_km=chronic,
        acwr=acwr,
        acwr_ewma=acwr,
        history_days=history_days,
    )


def an_evaluation(
    run: RunSummary,
    load: LoadSnapshot,
    *,
    baseline: float | None = None,
    dev_pct: float | None = None,
    live: bool = False,
    device_km: float | None = None,
) -> RunEvaluation:
    """`run` judged with `load`; final unless live."""
    return RunEvaluation(
        run=run, load=load, cadence_baseline_spm=baseline, cadence_dev_pct=dev_pct, live=live, device_km=device_km
    )
