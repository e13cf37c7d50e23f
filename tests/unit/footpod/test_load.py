"""Weekly load, change, ACWR and cadence baseline at an instant of event time (RULES.md §1)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from footpod.load import (
    CHRONIC_DAYS,
    DAY_MS,
    EWMA_ACUTE,
    EWMA_CHRONIC,
    EWMA_DAYS,
    WEEK_MS,
    acwr_ewma,
    cadence_baseline,
    cadence_dev_pct,
    change_pct,
    daily_km,
    km_between,
    load_at,
    load_before,
)
from footpod.records import LoadSnapshot, RunSummary

NOW = 1_764_000_000_000


def run(days_ago, km, cadence=170.0, hours=0.0):
    end = NOW - int(days_ago * DAY_MS) - int(hours * 3_600_000)
    return RunSummary(
        run_id=f"r{days_ago}-{km}",
        device_id="pod",
        start_ms=end - 3_600_000,
        end_ms=end,
        km=km,
        samples=3600,
        cadence_spm=cadence,
    )


@pytest.mark.parametrize(
    "runs, week, prev",
    [
        ([run(0, 10)], 10, 0),  # a run ending now is in this week
        ([run(7, 10)], 0, 10),  # exactly 7 × 24 h ago belongs to the week before
        ([run(6.99, 10)], 10, 0),  # just inside the week
        ([run(14, 10)], 0, 0),  # exactly 14 days ago is outside both
        ([run(1, 5), run(3, 5), run(8, 4), run(13, 4)], 10, 8),
        ([run(-0.01, 10)], 0, 0),  # a run ending after the evaluation time is not counted yet
    ],
)
def test_week_and_previous_week_are_trailing_7_day_windows(runs, week, prev):
    load = load_at(runs, NOW, first_seen_ms=NOW - 30 * DAY_MS)
    assert (load.week_km, load.prev_week_km) == (week, prev)


@pytest.mark.parametrize(
    "week, prev, expected",
    [
        (11, 10, pytest.approx(10.0)),  # exactly +10 %
        (8, 10, pytest.approx(-20.0)),
        (5, 0, None),  # absent while the week before is empty
    ],
)
def test_change_pct(week, prev, expected):
    assert change_pct(week, prev) == expected


def test_chronic_load_is_28_days_over_4_and_acwr_divides_by_it():
    runs = [run(d, 10) for d in (1, 8, 15, 22)] + [run(28, 100)]  # the 28-day-old run is outside
    load = load_at(runs, NOW, first_seen_ms=NOW - 40 * DAY_MS)
    assert load.chronic_week_km == 10
    assert load.acwr == 1.0


def test_acwr_is_absent_without_chronic_load():
    load = load_at([], NOW, first_seen_ms=NOW)
    assert load.acwr is None and load.acwr_ewma is None


def test_history_days_counts_from_first_seen():
    assert load_at([], NOW, first_seen_ms=NOW - 3 * DAY_MS).history_days == 3


def test_daily_km_bins_trailing_days_oldest_first():
    assert daily_km([run(0, 3), run(1.5, 4), run(2, 5)], NOW, 3) == [5, 4, 3]


def test_ewma_of_steady_load_is_one():
    assert acwr_ewma([5.0] * 200) == pytest.approx(1.0, abs=1e-3)


def test_ewma_rises_after_a_sudden_increase():
    assert acwr_ewma([5.0] * 60 + [15.0] * 7) > 1.5


def test_ewma_starts_at_the_first_active_day():
    assert acwr_ewma([0.0] * 30 + [5.0]) == acwr_ewma([5.0])


def ewma_day_by_day(daily):
    """Williams et al.'s EWMA walked through every day, counting from the first active one."""
    acute = chronic = 0.0
    started = False
    for load in daily:
        started = started or load > 0
        if started:
            acute = EWMA_ACUTE * load + (1 - EWMA_ACUTE) * acute
            chronic = EWMA_CHRONIC * load + (1 - EWMA_CHRONIC) * chronic
    return acute / chronic if chronic > 0 else None


@given(st.lists(st.floats(0, 50) | st.just(0.0), max_size=80))
def test_ewma_is_the_day_by_day_ewma(daily):
    assert acwr_ewma(daily) == ewma_day_by_day(daily)


@given(
    runs=st.lists(
        st.tuples(st.integers(-2 * DAY_MS, 70 * DAY_MS), st.floats(0, 40) | st.sampled_from([0.0, 0.1, 10.0])),
        max_size=40,
    ),
    first_seen_days=st.integers(0, 100),
)
def test_load_in_one_pass_is_each_window_summed_apart(runs, first_seen_days):
    """`load_at` as its definition: `km_between` of each window and the EWMA of `daily_km`, the
    same floats to the last bit (as the stream writes and sends them)."""
    summaries = sorted((run(age / DAY_MS, km) for age, km in runs), key=lambda r: r.end_ms)
    expected = load_by_definition(summaries, NOW, NOW - first_seen_days * DAY_MS)
    assert load_at(summaries, NOW, NOW - first_seen_days * DAY_MS).model_dump_json() == expected.model_dump_json()


def load_by_definition(runs, as_of, first_seen):
    """RULES.md §1's load, window by window (`km_between`) and day by day (`daily_km`)."""
    week = km_between(runs, as_of - WEEK_MS, as_of)
    prev = km_between(runs, as_of - 2 * WEEK_MS, as_of - WEEK_MS)
    chronic = km_between(runs, as_of - CHRONIC_DAYS * DAY_MS, as_of) / 4
    return LoadSnapshot(
        as_of_ms=as_of,
        week_km=week,
        prev_week_km=prev,
        change_pct=change_pct(week, prev),
        chronic_week_km=chronic,
        acwr=week / chronic if chronic > 0 else None,
        acwr_ewma=ewma_day_by_day(daily_km(runs, as_of, EWMA_DAYS)),
        history_days=max(0.0, (as_of - first_seen) / DAY_MS),
    )


@given(st.lists(st.floats(0, 50), min_size=1, max_size=80))
def test_ewma_is_never_negative(daily):
    value = acwr_ewma(daily)
    assert value is None or value >= 0


@pytest.mark.parametrize(
    "runs, expected",
    [
        ([run(1, 5, 160), run(2, 5, 170), run(3, 5, 180)], 170),  # median of three
        ([run(1, 5, 160), run(2, 5, 170)], None),  # fewer than 3 runs: no baseline
        ([run(1, 5, 160), run(2, 5, 170), run(29, 5, 180)], None),  # older than 28 days is out
        ([run(1, 5, 160), run(2, 5, None), run(3, 5, 170), run(4, 5, 180)], 170),  # walks don't count
    ],
)
def test_cadence_baseline_is_the_median_of_the_previous_28_days(runs, expected):
    assert cadence_baseline(runs, NOW) == expected


def test_cadence_deviation_in_percent_of_baseline():
    assert cadence_dev_pct(161.5, 170) == pytest.approx(-5.0)
    assert cadence_dev_pct(None, 170) is None and cadence_dev_pct(170, None) is None


@given(
    ages=st.lists(st.integers(-DAY_MS, 70 * DAY_MS), max_size=30),
    kms=st.lists(st.floats(0, 40) | st.sampled_from([0.0, 0.1, 10.0]), min_size=31, max_size=31),
    later=st.floats(0, 1),
    km=st.none() | st.floats(0, 40),
)
def test_sums_kept_for_the_runs_before_a_run_give_its_load_as_from_scratch(ages, kms, later, km):
    """The stream keeps `load_before` of the runs before a live run and adds the run to it, at any
    instant the sums hold for: the load is `load_at` of all the runs then, to the last bit."""
    before = sorted((run(age / DAY_MS, kms[index]) for index, age in enumerate(ages)), key=lambda r: r.end_ms)
    kept = load_before(before, NOW)
    assert NOW < kept.until_ms <= NOW + DAY_MS
    as_of = NOW + int(later * (kept.until_ms - 1 - NOW))
    first_seen = NOW - 40 * DAY_MS
    live = RunSummary(
        run_id="live", device_id="pod", start_ms=as_of - 1000, end_ms=as_of, km=km or 0.0, samples=2, cadence_spm=None
    )
    runs = before if km is None else [*before, live]
    expected = load_by_definition(runs, as_of, first_seen)
    assert kept.load_at(as_of, first_seen, km).model_dump_json() == expected.model_dump_json()


def test_sums_kept_are_refused_once_a_run_moves_to_another_day():
    kept = load_before([run(1.5, 10.0)], NOW)
    assert kept.until_ms == NOW + DAY_MS // 2
    with pytest.raises(ValueError):
        kept.load_at(kept.until_ms, NOW)
