"""`shoe_wear`: a footpod's shoe passing 480 km and 800 km (RULES.md §6)."""

import pytest

from alerts.decide import RunnerFacts, run_decisions
from alerts.rules.equipment import shoe_wear
from footpod.roster import RunnerEntry
from tests.unit.builders import a_load, a_run, an_evaluation

NOW = 1_764_000_000_000  # 2025-11-24T16:00:00Z
INFO = ("shoe_wear", "info", "plan_new_shoes")
WARNING = ("shoe_wear", "warning", "replace_shoes")


def evaluation(device_km=482.0, run_km=5.0, live=False, device="pod-1"):
    """A run of `run_km` that brings the footpod's lifetime distance to `device_km`."""
    return an_evaluation(
        a_run(NOW, km=run_km, device=device), a_load(NOW, 20.0, 20.0, acwr=1.0), live=live, device_km=device_km
    )


@pytest.mark.parametrize(
    "device_km, run_km, start_km, live, expected",
    [
        (482.0, 5.0, 0.0, False, [INFO]),  # 477 → 482 crosses 480
        (480.0, 5.0, 0.0, False, [INFO]),  # 475 → exactly 480 reaches it
        (479.9, 5.0, 0.0, False, []),  # 474.9 → 479.9: not yet
        (485.0, 5.0, 0.0, False, []),  # 480 → 485: raised by the run before, not again
        (600.0, 5.0, 0.0, False, []),  # a run entirely past 480 and short of 800
        (803.0, 5.0, 0.0, False, [WARNING]),  # 798 → 803 crosses 800
        (900.0, 5.0, 0.0, False, []),  # a run entirely past 800
        (805.0, 330.0, 0.0, False, [INFO, WARNING]),  # 475 → 805: both limits in one run
        (5.0, 5.0, 478.0, False, [INFO]),  # a shoe paired at 478 km: 478 → 483 crosses 480
        (5.0, 5.0, 798.0, False, [WARNING]),  # a shoe paired at 798 km: 798 → 803 crosses 800
        (5.0, 5.0, 0.0, False, []),  # a new shoe's first run
        (482.0, 5.0, 0.0, True, []),  # a live run: decided when it has ended
        (None, 5.0, 0.0, False, []),  # lifetime distance unknown
    ],
    ids=[
        "crossing_480",
        "reaching_exactly_480",
        "short_of_480",
        "starting_at_480",
        "entirely_past_480",
        "crossing_800",
        "entirely_past_800",
        "both_in_one_run",
        "start_km_crossing_480",
        "start_km_crossing_800",
        "new_shoe",
        "live_run",
        "unknown_lifetime",
    ],
)
def test_shoe_wear_is_raised_by_the_run_that_takes_the_shoe_past_480_or_800_km(
    device_km, run_km, start_km, live, expected
):
    decisions = shoe_wear(evaluation(device_km, run_km, live), start_km)
    assert [(d.rule, d.severity, d.action) for d in decisions] == expected


def test_shoe_wear_says_the_footpod_its_lifetime_distance_and_the_limit():
    (decision,) = shoe_wear(evaluation(5.0), 478.0)
    assert decision.details == {"device_id": "pod-1", "lifetime_km": 483.0, "limit_km": 480.0}
    assert decision.ts_ms == NOW
    assert "pod-1" in decision.message and "483 km" in decision.message and "480 km" in decision.message


@pytest.mark.parametrize(
    "shoes, expected",
    [
        ({"pod-1": 478.0}, [INFO]),  # the roster's start_km for this footpod counts
        ({"pod-2": 478.0}, []),  # another footpod's shoe: not this one
        ({}, []),  # not in the roster: a new shoe
    ],
    ids=["roster_start_km_counts", "other_footpods_start_km", "no_start_km"],
)
def test_run_decisions_add_the_rosters_start_km_of_the_footpods_shoe(shoes, expected):
    facts = RunnerFacts(runner="ana", team="red", entry=RunnerEntry(shoes=shoes))
    decisions = run_decisions(evaluation(5.0), facts)
    assert [(d.rule, d.severity, d.action) for d in decisions if d.rule == "shoe_wear"] == expected
